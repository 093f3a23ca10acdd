"""The time master of one rig: virtual time advances only when nothing can happen before.

Invariant (docs/architecture.md, "One clock per rig"): the master moves time from T to T' only
when (1) every participant has reported ``idle`` for the current generation, (2) for every
channel the bytes/datagrams sent equal those received (nothing in flight), and (3) T' is the
earliest deadline any participant gave. Then it sends ``now GEN+1 T'`` to the participants whose
deadline T' is (and the eager ones); every other report stands at T' (its generation carried),
and a participant that gets input while its report stands asks the time (``when``) before it
acts. A participant only acts on input or on a ``now`` message, so between two advances every
participant that acts sees one instant and no host speed can change what happens at which
virtual time.

Failures are loud: every participant idle, nothing in flight and no deadline anywhere is a
deadlock (nothing can ever happen again); a channel out of balance for ``stall_s`` wall seconds
with every participant idle is a stall (a datagram lost, an uncounted read). Both end the run
with ``fail`` and :attr:`Master.failure` naming what was waited for.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from host_tools.simclock.protocol import pace_of, parse_counters

#: NBKIT_SIM_TRACE=FILE: every message and advance of the master, a line each (who holds time)
_TRACE = os.environ.get("NBKIT_SIM_TRACE")


@dataclass
class _Part:
    addr: tuple[str, int] | None = None
    gen: int = -1
    idle: bool = False
    deadline: int | None = None
    pace: float = 0.0  # paced: at most this many device s per wall s (0: not paced)
    eager: bool = False  # told every advance, not only its own (the rig while it watches)
    seen: int = -1  # the last generation it was told (`now` or `time`)
    counters: dict[str, int] = field(default_factory=dict)


class Master:
    """A UDP time master on 127.0.0.1 (``addr``); :meth:`start` serves it in a thread."""

    def __init__(self, epoch_s: float, stall_s: float = 30.0) -> None:
        self.t_us = int(round(epoch_s * 1_000_000))
        self.gen = 0
        self.stall_s = stall_s
        self.parts: dict[str, _Part] = {}
        self.retired: dict[str, int] = {}  # counters of participants that said bye
        self.failure: str | None = None
        self.advances = 0
        self.on_fail: Callable[[str], None] | None = None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._sock.bind(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._imbalanced_since: float | None = None
        #: (wall, t_us, rate) when pacing began at that rate
        self._paced_origin: tuple[float, int, float] | None = None
        self._unready: set[str] = set()  # participants that have not answered `now` yet
        self._phase: set[str] = set()  # participants told this generation: they get its `go`
        self.told = 0  # `now` and `time` messages sent (what the lazy advance saves)
        self.lock = threading.Lock()
        self._changed = threading.Condition(self.lock)  # notified after every batch of messages
        self._trace = open(_TRACE, "w") if _TRACE else None  # noqa: SIM115 - closed by stop()

    @property
    def addr(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def now(self) -> float:
        """Virtual seconds."""
        return self.t_us / 1_000_000

    # ---- serving -----------------------------------------------------------------------------

    def start(self) -> Master:
        self._thread = threading.Thread(target=self._serve, name="nbkit-time-master", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self._sock.close()
        if self._trace is not None:
            self._trace.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], self._poll_s())
            if ready:
                self._drain()
            with self.lock:
                if self.failure is None:
                    self._try_advance()

    def _poll_s(self) -> float:
        paced = any(p.pace and p.idle for p in self.parts.values())
        return 0.005 if paced else 0.25

    def _drain(self) -> None:
        while True:
            try:
                data, addr = self._sock.recvfrom(65536)
            except (BlockingIOError, OSError):
                return
            with self.lock:
                self._message(data.decode("ascii", "replace").split(), addr)
                self._changed.notify_all()
            ready, _, _ = select.select([self._sock], [], [], 0)
            if not ready:
                return

    def _message(self, words: list[str], addr: tuple[str, int]) -> None:
        if self._trace is not None:
            self._trace.write(f"{self.gen} {self.t_us} <- {' '.join(words)}\n")
        if len(words) < 2:
            return
        kind, name = words[0], words[1]
        if kind in ("join", "bye", "drop") and len(words) > 2 and words[2] in self.parts:
            self.parts[words[2]].idle = False  # the sender is busy until its next report
        if kind == "hello":
            part = self.parts.setdefault(name, _Part())
            part.addr = addr
            self._tell(name, part)
            self._unready.add(name)  # its `ready` (or the go already due) follows
        elif kind == "when":
            self._when(name)
        elif kind == "ready" and len(words) > 2:
            if words[2] == str(self.gen):
                self._ready(name)
        elif kind == "join":
            self.parts.setdefault(name, _Part())
        elif kind == "bye":
            self._ready(name)
            gone = self.parts.pop(name, None)
            if gone is not None:
                for key, value in gone.counters.items():
                    self.retired[key] = self.retired.get(key, 0) + value
        elif kind == "drop":
            self._drop(name)
        elif kind == "idle" and len(words) >= 5:
            self._idle(name, words)

    def _ready(self, name: str) -> None:
        if name not in self._unready:
            return
        self._unready.discard(name)
        if not self._unready:
            line = f"go {self.gen}"
            for told in self._phase:
                part = self.parts.get(told)
                if part is not None and part.addr is not None:
                    self._send(line, part.addr)
            self._phase = set()

    def _tell(self, name: str, part: _Part) -> None:
        """``now`` of this generation to one participant; it joins the generation's phase (it
        answers ``ready``, its ``go`` comes with everyone's)."""
        part.seen = self.gen
        self._phase.add(name)
        self.told += 1
        if part.addr is not None:
            self._send(f"now {self.gen} {self.t_us}", part.addr)

    def _when(self, name: str) -> None:
        """A participant whose report stood while time moved (it was not due) has input: it is
        busy from now until its next report, and learns the time before it acts on the input:
        ``time GEN T`` (act at it), or ``time GEN T r`` while a generation's phase is open (a
        `now` that not everyone has answered: answer ``ready``, act at its ``go``)."""
        part = self.parts.get(name)
        if part is None or part.addr is None:
            return
        part.idle = False
        self.told += 1
        if part.seen == self.gen or not self._unready:
            part.seen = self.gen
            self._send(f"time {self.gen} {self.t_us}", part.addr)
            return
        part.seen = self.gen
        self._phase.add(name)
        self._unready.add(name)
        self._send(f"time {self.gen} {self.t_us} r", part.addr)

    def _idle(self, name: str, words: list[str]) -> None:
        part = self.parts.get(name)
        if part is None:
            return  # a late report of a participant already gone
        try:
            gen = int(words[2])
            deadline = None if words[3] == "-" else int(words[3])
            counters = parse_counters(words[5:])
        except ValueError:
            return
        if gen != self.gen:
            return  # stale: sent before it saw the current time
        part.gen, part.idle, part.deadline = gen, True, deadline
        part.pace, part.eager, part.counters = pace_of(words[4]), words[4] == "e", counters

    def _drop(self, prefix: str) -> None:
        for counters in [self.retired, *(p.counters for p in self.parts.values())]:
            for key in [k for k in counters if k.startswith(prefix)]:
                del counters[key]

    def _send(self, text: str, addr: tuple[str, int]) -> None:
        try:
            self._sock.sendto(text.encode(), addr)
        except OSError:
            pass  # the participant is gone; its bye follows

    # ---- advancing ---------------------------------------------------------------------------

    def in_flight(self) -> dict[str, int]:
        """Channel -> sent minus received (only the unbalanced ones)."""
        sums: dict[str, int] = {}
        heard: set[str] = set()  # channels with a declared receiving side
        for counters in [self.retired, *(p.counters for p in self.parts.values())]:
            for key, value in counters.items():
                chan, sign = key[:-1], 1 if key[-1] == ">" else -1
                sums[chan] = sums.get(chan, 0) + sign * value
                if sign < 0:
                    heard.add(chan)
        return {chan: n for chan, n in sums.items() if n > 0 and chan in heard}

    def _try_advance(self) -> None:
        parts = self.parts.values()
        if not parts or not all(p.idle and p.gen == self.gen for p in parts):
            self._imbalanced_since = None
            return
        flight = self.in_flight()
        if flight:
            self._check_stall(flight)
            return
        self._imbalanced_since = None
        deadlines = [p.deadline for p in parts if p.deadline is not None]
        target = min(deadlines) if deadlines else None
        rates = [p.pace for p in parts if p.pace]
        if rates:
            target = self._paced_target(target, min(rates))
            if target is None:
                return
        else:
            self._paced_origin = None
        if target is None:
            self._fail("deadlock: every participant waits for input and none has a deadline")
            return
        if target <= self.t_us:
            return  # a deadline already reached: its owner is busy (the rig between actions)
        self._advance(target)

    def _paced_target(self, target: int | None, rate: float) -> int | None:
        """Where paced time stands: ``rate`` device seconds per wall second (the slowest
        paced participant's) since pacing began at that rate, at most the next deadline."""
        wall = time.monotonic()
        if self._paced_origin is None or self._paced_origin[2] != rate:
            self._paced_origin = (wall, self.t_us, rate)
        origin_wall, origin_t, _ = self._paced_origin
        paced_now = origin_t + int((wall - origin_wall) * 1_000_000 * rate)
        if target is not None and target <= paced_now:
            self._paced_origin = None
            return target
        if paced_now - self.t_us < 1000:
            return None  # less than a millisecond: wait for the wall clock
        return paced_now

    def _advance(self, t_us: int) -> None:
        if self._trace is not None:
            self._trace.write(f"advance {self.gen + 1} {t_us}\n")
        self.t_us = t_us
        self.gen += 1
        self.advances += 1
        # Only those whose deadline is now (and the eager) are told: every other participant
        # is blocked until a later deadline or input, so its report stands at the new time. If
        # input comes to it, it asks (`when`) before it acts.
        self._unready, self._phase = set(), set()
        for name, part in self.parts.items():
            due = part.deadline is not None and part.deadline <= t_us
            if part.addr is not None and (due or part.eager):
                part.idle = False
                self._tell(name, part)
                self._unready.add(name)
            else:
                part.gen = self.gen  # carried: its report holds for this generation too

    def _check_stall(self, flight: dict[str, int]) -> None:
        wall = time.monotonic()
        if self._imbalanced_since is None:
            self._imbalanced_since = wall
        elif wall - self._imbalanced_since > self.stall_s:
            what = ", ".join(f"{chan} ({n:+d})" for chan, n in sorted(flight.items()))
            self._fail(
                f"stalled: every participant idle but in flight for {self.stall_s:g} s: {what}"
            )

    def wait_settled(self, but: str, reads: tuple[str, ...] = (), timeout: float = 30.0) -> bool:
        """Wait (wall, up to ``timeout`` s) until nothing can happen at the current time unless
        ``but`` acts: every other participant is idle at this generation and nothing is in
        flight, except on the channels ``reads`` (those ``but`` takes in itself: its own report
        may be behind on them). False on a timeout or a failed run. For a driver in this
        process that holds time (it is busy) and looks at what its peers recorded at this
        instant: once this holds, they have recorded all of it."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self.failure is not None or self._settled(but, reads), timeout
            ) and (self.failure is None)

    def _settled(self, but: str, reads: tuple[str, ...]) -> bool:
        others = [p for name, p in self.parts.items() if name != but]
        if not all(p.idle and p.gen == self.gen for p in others):
            return False
        return all(chan in reads for chan in self.in_flight())

    def _fail(self, why: str) -> None:
        self.failure = why
        self._changed.notify_all()
        for part in self.parts.values():
            if part.addr is not None:
                self._send(f"fail {why}"[:1000], part.addr)
        if self.on_fail is not None:
            self.on_fail(why)

    def describe(self) -> str:
        """Who holds time back right now (for error messages)."""
        with self.lock:
            busy = [n for n, p in self.parts.items() if not (p.idle and p.gen == self.gen)]
            flight = self.in_flight()
        return f"busy: {', '.join(busy) or '-'}; in flight: {flight or '-'}"
