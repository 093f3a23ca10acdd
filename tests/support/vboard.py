"""A running `nbkit vboard` for tests: its console pty, its control channel, and expect()."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import tty
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PROBE = REPO / "tests" / "e2e" / "vboard_probe.py"


class ExpectTimeout(AssertionError):
    """The pattern did not show up in time; the message holds what did."""


class VBoardProcess:
    """`nbkit vboard --console` started in a test; stop() returns its exit code."""

    def __init__(self, flash: Path, *extra: str, scale: float = 1000.0) -> None:
        self.clock = (time.time(), 1_764_000_000.0, scale)
        cmd = [
            sys.executable,
            "-m",
            "host_tools",
            "vboard",
            "--console",
            "--flash",
            str(flash),
            "--clock",
            ",".join(f"{x:.6f}" for x in self.clock),
            *extra,
        ]
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        console, control = self._first_lines(2)
        self.console = console
        self.port = int(control.rsplit(":", 1)[1])
        self.fd = os.open(self.console, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.buf = b""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(2)

    def _first_lines(self, n: int, timeout: float = 10) -> list[str]:
        assert self.proc.stdout is not None
        fd, out, end = self.proc.stdout.fileno(), b"", time.monotonic() + timeout
        while out.count(b"\n") < n:
            ready, _, _ = select.select([fd], [], [], max(0, end - time.monotonic()))
            chunk = os.read(fd, 1024) if ready else b""
            if not chunk:
                self.proc.kill()
                err = self.proc.communicate()[1].decode()
                raise AssertionError(f"vboard did not start: {out!r} {err}")
            out += chunk
        return out.decode().splitlines()[:n]

    def virtual_now(self) -> float:
        """Virtual seconds by the same formula the board uses."""
        wall_start, epoch, scale = self.clock
        return epoch + (time.time() - wall_start) * scale

    def ctl(self, text: str) -> str:
        """Send one control command; return the reply."""
        self.sock.sendto(text.encode(), ("127.0.0.1", self.port))
        return self.sock.recv(4096).decode()

    def status(self) -> dict[str, Any]:
        import json

        return dict(json.loads(self.ctl("status")))

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def expect(self, pattern: bytes, timeout: float = 5) -> re.Match[bytes]:
        """Wait for pattern on the console; consume through it; fail showing the buffer."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end() :]
                return m
            left = end - time.monotonic()
            if left <= 0:
                raise ExpectTimeout(f"no {pattern!r} within {timeout} s; console had {self.buf!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                self.buf += os.read(self.fd, 4096)

    def ask(self, command: str, timeout: float = 5) -> str:
        """One probe command (tests/e2e/vboard_probe.py); returns its answer, fails on `!`."""
        self.write(command.encode() + b"\n")
        m = self.expect(rb"([=!]) ([^\r\n]*)\r\n", timeout)  # CRLF, as a board's print sends
        assert m.group(1) == b"=", f"{command!r} failed on the board: {m.group(2)!r}"
        return m.group(2).decode()

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
        return code

    def __enter__(self) -> VBoardProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.stop()
