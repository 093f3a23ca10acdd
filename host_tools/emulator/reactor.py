"""One-thread event loop on virtual time: timers, readable sockets/ptys, an ordered UART writer.

Every timer is due at a *virtual* time; the loop sleeps in ``select`` for the wall time that
remains (virtual delta / scale), so nothing ever sleeps for real beyond the scaled delays.
While a timer callback runs, :meth:`Reactor.now` is that timer's due time, so chains of timers
keep exact virtual timestamps however late the loop woke up; an I/O callback sees one instant.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import math
import os
import selectors
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

from host_tools.emulator.clock import SimTime, VirtualClock
from host_tools.emulator.records import Spy
from host_tools.emulator.uart import bit_time

#: the UART rate of a BC95/BC28 out of the box (at-modems.md 0: "Default UART 9600 8N1 on BC95")
DEFAULT_BAUD = 9600


class Timer:
    """A scheduled callback; :meth:`cancel` makes it a no-op."""

    __slots__ = ("cancelled", "fn", "seq", "t")

    def __init__(self, t: float, seq: int, fn: Callable[[], None]) -> None:
        self.t, self.seq, self.fn, self.cancelled = t, seq, fn, False

    def __lt__(self, other: Timer) -> bool:
        return (self.t, self.seq) < (other.t, other.seq)

    def cancel(self) -> None:
        self.cancelled = True


class Reactor:
    """Selectors loop + timer heap on a :class:`VirtualClock`; ``stop()`` is signal/thread safe."""

    def __init__(self, clock: VirtualClock | SimTime) -> None:
        self.clock = clock
        #: the time-master participant when the clock is a rig's sim clock (simclock.client)
        self.sim: Any = getattr(clock, "client", None)
        #: cumulative channel counters reported to the time master ("udp.P.Q>" ...)
        self.tally: dict[str, int] = {}
        self.sel = selectors.DefaultSelector()
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._current: float | None = None
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, self._on_wake)

    def now(self) -> float:
        """Virtual now (the due time of the running timer, if any)."""
        return self._current if self._current is not None else self.clock.now()

    def call_at(self, t: float, fn: Callable[[], None]) -> Timer:
        timer = Timer(t, next(self._seq), fn)
        if len(self._timers) > 4096:  # restarted timers leave cancelled entries: compact
            self._timers = [x for x in self._timers if not x.cancelled]
            heapq.heapify(self._timers)
        heapq.heappush(self._timers, timer)
        return timer

    def count(self, key: str, n: int = 1) -> None:
        """Count ``n`` bytes/datagrams on a channel (only under a time master)."""
        if self.sim is not None:
            self.tally[key] = self.tally.get(key, 0) + n

    def asked(self, channel: str) -> None:
        """A request went to a server outside the rig (a broker, a platform): it is in flight
        on this process's own ``channel`` until :meth:`answered`, so time waits for the answer
        (the receiving side is declared first: the first answer is awaited too)."""
        self.count(f"{channel}.{os.getpid()}<", 0)
        self.count(f"{channel}.{os.getpid()}>")

    def answered(self, channel: str, n: int = 1) -> None:
        """``n`` answers (or failures that end the wait) to :meth:`asked` requests came back."""
        self.count(f"{channel}.{os.getpid()}<", n)

    def uart_slot(self, t: float) -> float:
        """Under a time master a UART chunk lands 500 us into a millisecond, after now: never
        at the instant of a firmware timeout (whole ms) or a pin edge (300 us), so no two
        causes meet at one instant and their order cannot depend on the host."""
        if self.sim is None:
            return t
        earliest = max(math.ceil(t * 1_000_000), int(self.now() * 1_000_000) + 1)
        k = (earliest - 500 + 999) // 1000
        return (k * 1000 + 500) / 1_000_000

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        return self.call_at(self.now() + max(0.0, delay), fn)

    def add_handler(self, fileobj: Any, events: int, fn: Callable[[int], None]) -> None:
        """Call ``fn(mask)`` when ``fileobj`` is ready (re-registering replaces)."""
        try:
            self.sel.register(fileobj, events, fn)
        except KeyError:
            self.sel.modify(fileobj, events, fn)

    def remove_handler(self, fileobj: Any) -> None:
        try:
            self.sel.unregister(fileobj)
        except (KeyError, ValueError):
            pass

    def stop(self) -> None:
        """Ask the loop to return (safe from a signal handler or another thread)."""
        self._stopping = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _on_wake(self, mask: int) -> None:
        try:
            os.read(self._wake_r, 512)
        except BlockingIOError:
            pass

    def run_due(self) -> None:
        """Run every timer due at the current virtual time, in time order."""
        limit = self.clock.now()
        while self._timers and self._timers[0].t <= limit and not self._stopping:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._current = timer.t
            try:
                timer.fn()
            finally:
                self._current = None

    def _timeout(self) -> float | None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        if not self._timers:
            return None
        return self.clock.wall_delay(self._timers[0].t - self.clock.now())

    def _next_due(self) -> float | None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].t if self._timers else None

    def _dispatch(self, events: list[tuple[Any, int]]) -> None:
        for key, mask in events:
            self._current = self.clock.now()  # one instant per event
            try:
                key.data(mask)
            finally:
                self._current = None
            if self._stopping:
                break

    def _on_master(self, mask: int) -> None:
        from host_tools.simclock.client import SimFailed

        try:
            self.sim.on_readable()
        except SimFailed as exc:
            print(f"nbkit: {exc}", file=sys.stderr, flush=True)
            self.stop()

    def _run_sim(self) -> None:
        """Serve under a time master: run what is due, serve what is readable, and only when
        nothing is left report idle until the next timer and block."""
        self.sel.register(self.sim, selectors.EVENT_READ, self._on_master)
        while not self._stopping:
            self.run_due()
            events = self.sel.select(0)
            if not events:
                self.sim.report(self._next_due())
                events = self.sel.select(1.0)
            if any(k.data != self._on_master for k, _ in events) and self.sim.go():
                continue  # a peer's input at a new time (simclock.client.go): what is due first
            self._dispatch(events)

    def run(self) -> None:
        """Serve until :meth:`stop`."""
        if self.sim is not None:
            self._run_sim()
            return
        while not self._stopping:
            self.run_due()
            if self._stopping:
                break
            self._dispatch(self.sel.select(self._timeout()))

    def close(self) -> None:
        self.sel.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


class UartOutput:
    """Ordered, timed, bounded writer to the pty master.

    ``write(data, delay)`` queues ``data`` after everything queued before it, not earlier than
    ``delay`` virtual seconds from now: a delayed response holds back the URCs behind it, as on
    a real module. Each chunk costs its bit time at ``baud`` (8N1, 10 bits a byte;
    host_tools.emulator.uart): it starts when the line is free (the previous chunk's end) and
    reaches the DTE when its last byte has crossed the wire. Bytes the DTE does not read pile
    up to ``limit`` and then the oldest are dropped (counted in ``dropped``).
    """

    def __init__(
        self,
        reactor: Reactor,
        fd: int,
        spy: Spy,
        want_write: Callable[[bool], None],
        limit: int = 65536,
        *,
        baud: int = DEFAULT_BAUD,
    ) -> None:
        self.reactor, self.fd, self.spy, self.limit = reactor, fd, spy, limit
        self.baud = baud
        self._want_write = want_write
        self._queue: deque[tuple[float, bytes]] = deque()
        self._pending = bytearray()
        self._last_due = float("-inf")
        self._timer: Timer | None = None
        self._watching = False
        self.dropped = 0
        self.written = 0

    def write(self, data: bytes, delay: float = 0.0) -> None:
        if not data:
            return
        start = max(self.reactor.now() + delay, self._last_due)
        due = self.reactor.uart_slot(start + bit_time(len(data), self.baud))
        self._last_due = due
        self._queue.append((due, data))
        self._pump()

    @property
    def busy_until(self) -> float:
        """Virtual time at which the last byte queued so far will have reached the DTE."""
        return self._last_due

    def discard_queued(self) -> None:
        """Drop what is queued but not yet due (a reboot cuts a delayed response)."""
        self._queue.clear()
        self._last_due = float("-inf")

    def _pump(self) -> None:
        now = self.reactor.now()
        while self._queue and self._queue[0][0] <= now:
            self._send(self._queue.popleft()[1])
        if self._queue and self._timer is None:
            self._timer = self.reactor.call_at(self._queue[0][0], self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._pump()

    def _send(self, data: bytes) -> None:
        self._pending += data
        if len(self._pending) > self.limit:
            cut = len(self._pending) - self.limit
            del self._pending[:cut]
            self.dropped += cut
        self.flush()

    def flush(self) -> None:
        """Write what the pty accepts now; ask for EVENT_WRITE while bytes remain."""
        while self._pending:
            try:
                n = os.write(self.fd, self._pending)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EAGAIN):
                    break
                raise
            self.spy.record("from_modem", bytes(self._pending[:n]))
            self.written += n
            del self._pending[:n]
        want = bool(self._pending)
        if want != self._watching:
            self._watching = want
            self._want_write(want)
