"""A small DTE for tests and benchmarks: talk to an emulated modem over its real pty."""

from __future__ import annotations

import os
import re
import select
import time
from typing import Any

from host_tools.simclock.client import SimClient

#: a final result line: OK, ERROR or +CME ERROR: n
FINAL = re.compile(rb"\r\n(OK|ERROR|\+CME ERROR: ?\d+)\r\n")


class PtyTimeout(AssertionError):
    """Expected bytes did not arrive in time (carries what did arrive)."""


class PtyClient:
    """Opens the pty slave in raw non-blocking mode; keeps unread bytes in a buffer."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.buf = bytearray()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                select.select([], [self.fd], [], 0.1)
                continue
            view = view[n:]

    def _fill(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return False
        try:
            self.buf += os.read(self.fd, 65536)
        except BlockingIOError:
            return False
        return True

    def read_until(self, pattern: bytes | re.Pattern[bytes], timeout: float = 2.0) -> bytes:
        """Consume and return the bytes up to and including the first match of ``pattern``."""
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        deadline = self._clock() + timeout
        while True:
            m = regex.search(self.buf)
            if m:
                out = bytes(self.buf[: m.end()])
                del self.buf[: m.end()]
                return out
            left = deadline - self._clock()
            if left <= 0:
                raise PtyTimeout(
                    f"no {regex.pattern!r} within {timeout} {self.UNIT}; got {bytes(self.buf)!r}"
                )
            self._fill(left)

    #: what read_until's timeouts count (wall seconds here)
    UNIT = "s"

    def _clock(self) -> float:
        return time.monotonic()

    def command(self, text: str | bytes, timeout: float = 2.0, end: bytes = b"\r") -> bytes:
        """Send one command line and return everything up to its final result line."""
        data = text.encode() if isinstance(text, str) else text
        self.write(data + end)
        return self.read_until(FINAL, timeout)

    def drain(self, quiet: float = 0.05) -> bytes:
        """Everything buffered or arriving until the line is quiet for ``quiet`` seconds."""
        while self._fill(quiet):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> PtyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SimPtyClient(PtyClient):
    """A DTE that is a participant of a time master (host_tools.simclock): timeouts are device
    seconds, and device time moves only while it waits for the modem (never while the caller
    works between two calls). Create it before the emulator joins the master (it holds time
    from its ``hello``), then :meth:`open` the emulator's pty. It counts the UART bytes the
    way a board does (``CHAN.uart.up>`` written, ``CHAN.uart.dn<`` read).

        master = Master(EPOCH).start()
        dte = SimPtyClient(master.addr, "m0")
        with running_emulator("bc28", sim=dte.spec) as emu, dte.open(emu.path):
            dte.command("AT")
    """

    #: wall seconds a wait may take before the run counts as stuck (time stopped moving)
    WALL_GUARD_S = 30.0

    def __init__(self, master: tuple[str, int], chan: str = "m0") -> None:
        self.chan = chan
        self.master = master  # the time master's address (for peers that join it too)
        self.sim = SimClient(master, f"{chan}.dte")
        self.fd = -1
        self.buf = bytearray()

    @property
    def spec(self) -> str:
        """The ``--clock`` value that puts an emulator on this DTE's master and channel."""
        return f"{self.sim.spec}:{self.chan}"

    def open(self, path: str) -> SimPtyClient:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.sim.received(f"{self.chan}.uart.dn", 0)  # declared: the modem's bytes are awaited
        return self

    def now(self) -> float:
        """Device seconds."""
        return self.sim.now()

    def write(self, data: bytes) -> None:
        self.sim.sent(f"{self.chan}.uart.up", len(data))  # counted before it goes
        super().write(data)

    def _fill(self, timeout: float) -> bool:
        """Wait up to ``timeout`` device seconds for bytes; False when the time came first."""
        deadline = self.sim.now() + max(0.0, timeout)
        wall = time.monotonic() + self.WALL_GUARD_S
        while time.monotonic() < wall:
            if self.sim.now() >= deadline:
                return False
            self.sim.report(deadline)
            watched: list[Any] = [self.sim, self.fd]
            ready, _, _ = select.select(watched, [], [], 0.5)
            if self.sim in ready:
                self.sim.on_readable()
            if self.fd in ready:
                self.sim.go()  # input: at its sender's time
                try:
                    data = os.read(self.fd, 65536)
                except BlockingIOError:
                    continue
                self.sim.received(f"{self.chan}.uart.dn", len(data))
                self.buf += data
                return True
        raise PtyTimeout(f"device time stopped at {self.sim.now():.6f}; got {bytes(self.buf)!r}")

    UNIT = "device s"

    def _clock(self) -> float:
        return self.sim.now()

    def idle(self, seconds: float) -> bytes:
        """Let ``seconds`` of device time pass, keeping what arrives; returns it (consumed)."""
        deadline = self.sim.now() + seconds
        while self.sim.now() < deadline:
            self._fill(deadline - self.sim.now())
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def drain(self, quiet: float = 0.05) -> bytes:
        """Everything buffered or arriving until the line is quiet for ``quiet`` device s."""
        return super().drain(quiet)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def leave(self) -> None:
        """Leave the master (the emulator alone would then run time freely: stop it first)."""
        self.close()
        self.sim.close()
