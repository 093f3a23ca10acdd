"""The device under test as a console: write lines, `expect()` patterns with a timeout.

Works on any pyserial URL: a real `/dev/ttyUSB0`, the virtual board's console pty, `loop://`.
Everything read is kept in a log file (a test artifact) and in a bounded buffer that `expect`
searches; on a timeout the error shows the unmatched tail of the buffer.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

_MAX_BUFFER = 256 * 1024


class ExpectTimeout(AssertionError):
    """`expect()` did not see its pattern in time; the message holds the console buffer."""


class Dut:
    """A console connection with pexpect-style matching (used by the `dut` fixture)."""

    def __init__(self, url: str, baud: int = 115200, log_path: Path | None = None) -> None:
        import serial

        self.serial: Any = serial.serial_for_url(url, baudrate=baud, timeout=0.05, exclusive=True)
        self.url = url
        self._buf = bytearray()
        self._pos = 0
        self._cond = threading.Condition()
        self._log = open(log_path, "ab") if log_path else None  # noqa: SIM115 - closed in close()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                # what is there now (at least one byte): read(4096) would sit out the timeout
                data = self.serial.read(min(4096, self.serial.in_waiting) or 1)
            except Exception:  # noqa: BLE001 - port gone: stop reading, expect() times out
                return
            if not data:
                continue
            if self._log:
                self._log.write(data)
                self._log.flush()
            with self._cond:
                self._buf += data
                if len(self._buf) > _MAX_BUFFER:  # keep the tail; matching starts past the cut
                    cut = len(self._buf) - _MAX_BUFFER
                    del self._buf[:cut]
                    self._pos = max(0, self._pos - cut)
                self._cond.notify_all()

    def write(self, data: str | bytes) -> None:
        """Send raw text/bytes to the console."""
        self.serial.write(data.encode() if isinstance(data, str) else data)
        self.serial.flush()

    def writeline(self, line: str) -> None:
        """Send one line terminated by CR LF."""
        self.write(line + "\r\n")

    def expect(self, pattern: str | bytes, timeout: float = 5.0) -> re.Match[bytes]:
        """Wait for a regex past the last match; raise ExpectTimeout showing the buffer."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                match = rx.search(self._buf, self._pos)
                if match:
                    self._pos = match.end()
                    return match
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = bytes(self._buf[self._pos :])[-2000:].decode(errors="replace")
                    raise ExpectTimeout(
                        f"{self.url}: no match for {rx.pattern!r} within {timeout} s; "
                        f"unmatched console output:\n{tail}"
                    )
                self._cond.wait(left)

    def before(self) -> str:
        """Console output not yet consumed by a match."""
        with self._cond:
            return bytes(self._buf[self._pos :]).decode(errors="replace")

    def close(self) -> None:
        self._stop.set()
        self._reader.join(1)
        self.serial.close()
        if self._log:
            self._log.close()
