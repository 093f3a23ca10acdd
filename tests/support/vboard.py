"""A running `nbkit vboard` for tests, on a time master of its own: its console pty, its
control channel, expect(), and the test itself as a participant of the master.

Device time is the master's (host_tools/simclock): it moves only while every participant
waits, so nothing the board sees depends on how fast or busy the host is. The test is the
participant ``test``, and like the rig (host_tools/rig) it holds device time except while it
waits: from the start until its first wait (what it types first reaches the board before any
device time passes), and between its waits (expect(), ask(), run_until(), wait_for()), so what
it does next happens at the device instant where its wait ended. What it types (``vb.con``)
and the commands it sends (``vb.cmd``) are counted: time also waits until the board's host has
taken them. Inside ``with vb.held():`` time stands still even while the test waits there (for
what takes the board no device time). After let_time_run() the test holds time only while it
acts: a board driven by peer tools (mpremote, rshell) that know nothing of the master, whose
time runs at wall speed while they type (the board parks paced at its REPL).
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from host_tools.simclock.client import SimClient
from host_tools.simclock.master import Master

REPO = Path(__file__).resolve().parents[2]
PROBE = REPO / "tests" / "e2e" / "vboard_probe.py"
EPOCH = 1_764_000_000  # device time at power-on (virtual seconds)
CHAN = "vb"  # the board's channels at the master (vb.con, vb.cmd, vb.uart ...)


class ExpectTimeout(AssertionError):
    """The pattern did not show up in time; the message holds what did."""


class VBoardProcess:
    """`nbkit vboard --console --clock sim:...` started in a test; stop() returns its exit
    code. See the module's docstring for when device time runs."""

    def __init__(self, flash: Path, *extra: str, paced_console: bool = False) -> None:
        """``paced_console``: what the test types paces the board at wall speed for 3 wall
        seconds, as a person's typing does. For firmware that answers and then waits on in
        device time (the service console's idle timeout): the test sees the answer a few wall
        ms after it came, and only pacing keeps those ms from being a timeout's worth of device
        time. Default: no pacing (the probe waits for commands busy: nothing passes meanwhile)."""
        self.master = Master(EPOCH).start()
        self.sim = SimClient(self.master.addr, "test")  # busy until it reports: time waits
        self._held = 0  # nesting depth of held()
        self._free = False  # let_time_run(): held only while acting
        host, port = self.master.addr
        cmd = [
            sys.executable,
            "-m",
            "host_tools",
            "vboard",
            "--console",
            "--flash",
            str(flash),
            "--clock",
            f"sim:{host}:{port}:{CHAN}",
            *extra,
        ]
        if not paced_console:
            cmd.append("--console-counted")  # the test counts what it types: time waits for it
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        console, control = self._first_lines(2)
        self.console = console
        self.port = int(control.rsplit(":", 1)[1])
        self.fd = os.open(self.console, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.buf = b""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(5)

    def _first_lines(self, n: int, timeout: float = 10) -> list[str]:
        assert self.proc.stdout is not None
        fd, out, end = self.proc.stdout.fileno(), b"", time.monotonic() + timeout
        while out.count(b"\n") < n:
            ready, _, _ = select.select([fd], [], [], max(0, end - time.monotonic()))
            chunk = os.read(fd, 1024) if ready else b""
            if not chunk:
                self.proc.kill()
                err = self.proc.communicate()[1].decode()
                self._close_master()
                raise AssertionError(f"vboard did not start: {out!r} {err}")
            out += chunk
        return out.decode().splitlines()[:n]

    # ---- device time ------------------------------------------------------------------------

    def virtual_now(self) -> float:
        """Device time: the master's (virtual seconds)."""
        return self.master.now()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Device time stands still inside, also while the test waits there (expect(),
        wait_for(): for what takes the board no device time, an answer to what it typed, a
        state the host reports), so what the test does inside happens at one device instant
        whatever the host's speed; run_until() inside moves it to a given instant."""
        self._hold()
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            self._acted()

    def let_time_run(self) -> None:
        """From now on hold device time only while acting (ctl(), write(), held()): for a
        board driven by peer tools that know nothing of the master."""
        self._free = True
        self._acted()

    def run_until(self, t: float, timeout: float = 30) -> None:
        """Let device time run to ``t`` (virtual s) and hold it there (see the module)."""
        end = time.monotonic() + timeout
        self._hold()  # a standing report is renewed with the deadline below
        while self.sim.now() < t:
            self.sim.report(t)
            ready, _, _ = select.select([self.sim, self.fd], [], [], 0.5)
            if self.sim in ready:
                self.sim.on_readable()  # its `go` at t: busy again
            if self.fd in ready:
                self._read_console()
            self._check(end, f"device time {t - EPOCH:.6f} s after power-on")
        self._acted()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30) -> None:
        """Wait until predicate() holds (it may ask the board: ctl(), status()); device time
        runs meanwhile an advance at a time, the predicate checked between two (inside held():
        time stands still)."""
        end = time.monotonic() + timeout
        stepping = not self._held
        self._hold()
        self._held += 1  # the predicate's ctl() keeps time where it is
        try:
            while not predicate():
                if stepping:
                    self.sim.report(None, eager=True)  # told every advance, busy until checked
                ready, _, _ = select.select([self.sim, self.fd], [], [], 0.2 if stepping else 0.02)
                if self.sim in ready:
                    self.sim.on_readable()
                if self.fd in ready:
                    self._read_console()
                self._check(end, "the condition")
                self._hold()
        finally:
            self._held -= 1
        self._acted()

    def _hold(self) -> None:
        """Busy from now on: the master holds time (after asking it, when this participant's
        idle report stood)."""
        self.sim.go()

    def _acted(self) -> None:
        """After an action: let time run again if the test holds it only while acting."""
        if self._free and not self._held:
            self.sim.report(None)

    def _waiting(self) -> None:
        """A wait begins: idle, with no deadline of its own (inside held(): still busy)."""
        if not self._held:
            self.sim.report(None)

    def _waited(self) -> None:
        """A wait ended: hold time at the instant it ended (unless let_time_run())."""
        if not self._free:
            self._hold()

    def _check(self, end: float, what: str) -> None:
        if self.master.failure:
            raise AssertionError(f"the time master stopped the run: {self.master.failure}")
        if self.proc.poll() is not None:
            raise AssertionError(f"the vboard exited ({self.proc.returncode}) waiting for {what}")
        if time.monotonic() > end:
            raise AssertionError(
                f"no {what} by device time {self.virtual_now() - EPOCH:.6f} s after power-on "
                f"({self.master.describe()}); console had {self.buf[-300:]!r}"
            )

    # ---- control channel and console --------------------------------------------------------

    def ctl(self, text: str) -> str:
        """Send one control command at the current device instant; return the reply."""
        self._hold()
        self.sim.sent(f"{CHAN}.cmd")  # time waits until the host has done it
        self.sock.sendto(text.encode(), ("127.0.0.1", self.port))
        reply = self.sock.recv(65536).decode()
        self._acted()
        return reply

    def status(self) -> dict[str, Any]:
        return dict(json.loads(self.ctl("status")))

    def write(self, data: bytes) -> None:
        """Type on the console at the current device instant (counted: time waits until the
        host has taken every byte)."""
        self._hold()
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            self.sim.sent(f"{CHAN}.con", n)
            view = view[n:]
        self._acted()

    def sent_on(self, channel: str, n: int) -> None:
        """Count ``n`` bytes the test put on one of the board's lines (``uart.dn``: the modem
        UART's pty): time waits until the board has read them."""
        self.sim.sent(f"{CHAN}.{channel}", n)

    def _read_console(self) -> None:
        self.buf += os.read(self.fd, 4096)

    def expect(self, pattern: bytes, timeout: float = 5) -> re.Match[bytes]:
        """Wait for pattern on the console; consume through it; fail showing the buffer.
        Device time runs meanwhile (inside held(): it stands still); ``timeout`` is in wall
        seconds, a guard against a hang, never the measure of a device delay."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        self._waiting()
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end() :]
                self._waited()
                return m
            left = end - time.monotonic()
            if left <= 0:
                raise ExpectTimeout(
                    f"no {pattern!r} within {timeout} s (device time "
                    f"{self.virtual_now() - EPOCH:.6f} s after power-on; "
                    f"{self.master.describe()}); console had {self.buf!r}"
                )
            ready, _, _ = select.select([self.fd, self.sim], [], [], left)
            if self.sim in ready:
                self.sim.on_readable()  # raises when the master ends the run
            if self.fd in ready:
                self._read_console()

    def ask(self, command: str, timeout: float = 5) -> str:
        """One probe command (tests/e2e/vboard_probe.py); returns its answer, fails on `!`."""
        self.write(command.encode() + b"\n")
        m = self.expect(rb"([=!]) ([^\r\n]*)\r\n", timeout)  # CRLF, as a board's print sends
        assert m.group(1) == b"=", f"{command!r} failed on the board: {m.group(2)!r}"
        return m.group(2).decode()

    # ---- stop -------------------------------------------------------------------------------

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop the vboard (SIGTERM by default); return its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(10)
        finally:
            os.close(self.fd)
            self.sock.close()
            if self.proc.poll() is None:
                self.proc.kill()
            self._close_master()
        return code

    def _close_master(self) -> None:
        self.sim.close()
        self.master.stop()

    def __enter__(self) -> VBoardProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.stop()
