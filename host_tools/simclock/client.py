"""The participant side of the time master, for host processes (emulator, collector, vboard
host, meter-bus emulator, the rig itself).

A participant keeps one loop: serve what is readable, run what is due, and when nothing is
left, :meth:`SimClient.report` (idle until a deadline, with its channel counters) and block in
``select`` on its inputs plus :meth:`SimClient.fileno`; a ``now`` message moves :meth:`now`.
Counters are read from ``counters()`` at every report, so a component keeps its own cumulative
totals (bytes written to a pty, datagrams received) and nothing else has to be threaded through.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable

from host_tools.errors import CommandError
from host_tools.simclock.protocol import MAX_DATAGRAM, idle_line, to_us

#: how long a participant waits for the master's first answer
HELLO_WAIT_S = 15.0


class SimFailed(CommandError):
    """The time master ended the run (deadlock, stall)."""


def parse_spec(text: str) -> tuple[tuple[str, int], str]:
    """``sim:HOST:PORT:NAME`` -> ((host, port), name)."""
    parts = text.split(":")
    if len(parts) != 4 or parts[0] != "sim" or not parts[3]:
        raise CommandError(f"--clock wants sim:HOST:PORT:NAME, got {text!r}")
    try:
        return (parts[1], int(parts[2])), parts[3]
    except ValueError:
        raise CommandError(f"--clock sim:HOST:PORT:NAME: PORT is a number, got {text!r}") from None


class SimClient:
    """One participant's connection to the time master."""

    def __init__(
        self,
        master: tuple[str, int],
        name: str,
        counters: Callable[[], dict[str, int]] | None = None,
    ) -> None:
        self.name = name
        self.counters = counters or dict
        self.extra: dict[str, int] = {}  # counters kept here (sent/received helpers)
        self.gen = -1
        self.t_us = 0
        self.pending: tuple[int, int] | None = None  # (gen, t_us) announced, not yet go
        self._go_lock = threading.RLock()  # the master's socket and the time: one reader
        self.failure: str | None = None
        self._last = ""
        self._standing = False  # its last report holds at the master (no go or ask since)
        self._told = False  # the master answered the last `when`
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.connect(master)
        self._sock.send(f"hello {name}".encode())
        self._sock.settimeout(HELLO_WAIT_S)
        try:
            while self.gen < 0:
                self._take(self._sock.recv(65536))
        except (TimeoutError, OSError) as exc:
            raise CommandError(
                f"no time master answered at {master[0]}:{master[1]}: {exc}"
            ) from exc
        self._sock.setblocking(False)

    @property
    def spec(self) -> str:
        host, port = self._sock.getpeername()[:2]
        return f"sim:{host}:{port}"

    def now(self) -> float:
        """Virtual seconds (the master's last ``now``)."""
        return self.t_us / 1_000_000

    def fileno(self) -> int:
        return self._sock.fileno()

    def sent(self, channel: str, n: int = 1) -> None:
        key = channel + ">"
        self.extra[key] = self.extra.get(key, 0) + n

    def received(self, channel: str, n: int = 1) -> None:
        key = channel + "<"
        self.extra[key] = self.extra.get(key, 0) + n

    def _take(self, data: bytes) -> bool:
        """One message of the master; True when it moved time (a ``go``)."""
        words = data.decode("ascii", "replace").split(" ")
        if words[0] == "now" and len(words) == 3:
            gen, t_us = int(words[1]), int(words[2])
            if gen > self.gen:
                with self._go_lock:
                    self.pending = (gen, t_us)
            if gen >= self.gen:  # (== : it asked first, input overtook this `now`)
                self._send(f"ready {self.name} {gen}")
        elif words[0] == "time" and len(words) in (3, 4):  # the answer to `when`
            gen, t_us = int(words[1]), int(words[2])
            self._told = True
            if gen > self.gen:
                with self._go_lock:
                    self.pending = (gen, t_us)
                if len(words) == 3:
                    return self._go()  # no phase open: act at it
                self._send(f"ready {self.name} {gen}")
        elif words[0] == "go" and len(words) == 2:
            return self.pending is not None and int(words[1]) == self.pending[0] and self._go()
        elif words[0] == "fail":
            self.failure = " ".join(words[1:])
        return False

    def go(self) -> bool:
        """Input came (from a peer, or from outside the rig): act at the current time; True
        when time moved. After a ``now``, the peer that sent it got its ``go`` first. With no
        ``now`` pending and this participant's report standing, time may have moved without
        it (the master tells only those whose deadline comes), so it asks the master first
        (``when``). Safe from another thread (an intake's own, e.g. the CoAP platform's, that
        takes input while this participant's loop reads the master)."""
        with self._go_lock:
            if self.pending is not None:
                return self._go()
            if not self._standing:
                return False  # busy since its last go: the time cannot have moved
            return self._ask()

    def _go(self) -> bool:
        with self._go_lock:
            pending, self.pending = self.pending, None
            if pending is None:
                return False
            self.gen, self.t_us = pending
            self._standing = False
            return True

    def _ask(self) -> bool:
        """``when``: the master answers ``time GEN T`` (act at it) or ``time GEN T r`` (a
        phase is open: answer ``ready``, act at its ``go``)."""
        self._forget_last()
        self._told = False
        gen = self.gen
        self._send(f"when {self.name}")
        while (not self._told or self.pending is not None) and self.failure is None:
            ready, _, _ = select.select([self._sock], [], [], HELLO_WAIT_S)
            if not ready:
                raise SimFailed(f"the time master did not answer `when {self.name}`")
            self.on_readable()
        return self.gen != gen

    def on_readable(self) -> bool:
        """Read the master's messages; True when time moved. Raises SimFailed on ``fail``."""
        moved = False
        with self._go_lock:
            while True:
                try:
                    data = self._sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                moved = self._take(data) or moved
        if self.failure is not None:
            raise SimFailed(f"the time master ended the run: {self.failure}")
        return moved

    def report(
        self,
        deadline: float | None,
        paced: float = 0.0,
        deadline_us: int | None = None,
        eager: bool = False,
    ) -> None:
        """Tell the master this participant is blocked until ``deadline`` (virtual s) or input;
        ``deadline_us`` instead: an exact instant in whole microseconds. ``eager``: be told
        every advance of time, not only the one to its deadline (the rig while it watches
        for something). A report that changes while the last one stands (pacing ends) asks
        the time first: the master takes reports of the current generation only."""
        with self._go_lock:
            if self.pending is not None:
                return  # between `now` and `go`: nothing to report until it acts at the new time
            line = self._line(deadline, paced, deadline_us, eager)
            if line == self._last:
                return
            if self._standing:
                self._ask()
                if self.pending is not None:
                    return
                line = self._line(deadline, paced, deadline_us, eager)
            if len(line) < MAX_DATAGRAM:
                self._last = line
                self._standing = True
                self._send(line)

    def _line(
        self, deadline: float | None, paced: float, deadline_us: int | None, eager: bool
    ) -> str:
        counters = {**self.counters(), **self.extra}
        if deadline_us is None and deadline is not None:
            deadline_us = to_us(deadline)
        dl = None if deadline_us is None else max(deadline_us, self.t_us + 1)
        return idle_line(self.name, self.gen, dl, paced, counters, eager=eager)

    def join(self, name: str) -> None:
        self._forget_last()
        self._send(f"join {name} {self.name}")

    def bye(self, name: str | None = None) -> None:
        self._forget_last()
        self._send(f"bye {name or self.name} {self.name}")

    def drop(self, prefix: str) -> None:
        self._forget_last()
        self._send(f"drop {prefix} {self.name}")

    def _forget_last(self) -> None:
        """The master now holds this participant busy: its next report must be sent."""
        self._last = ""
        self._standing = False

    def _send(self, text: str) -> None:
        try:
            self._sock.send(text.encode())
        except OSError:
            pass  # the master is gone: the rig is stopping

    def close(self) -> None:
        self.bye()
        self._sock.close()
