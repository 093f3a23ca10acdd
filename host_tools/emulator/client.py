"""A small DTE for tests and benchmarks: talk to an emulated modem over its real pty."""

from __future__ import annotations

import os
import re
import select
import time

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
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.buf)
            if m:
                out = bytes(self.buf[: m.end()])
                del self.buf[: m.end()]
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                raise PtyTimeout(
                    f"no {regex.pattern!r} within {timeout}s; got {bytes(self.buf)!r}"
                )
            self._fill(left)

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
