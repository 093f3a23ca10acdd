"""The host end of the device's service console (docs/architecture.md, "Provisioning console"):
one command line out, data lines and one final `OK` / `ERR <code> <message>` line back.

`nbkit provision` (provision.py), the HIL plugin and the tests talk to a device through
:class:`ConsoleClient`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from host_tools.errors import CommandError

#: longest command line the device accepts (firmware/nbkit/console/console.py _MAX_LINE)
DEVICE_LINE_MAX = 200
#: device answers longer than this are not a console reply (wrong port or baud)
_MAX_REPLY_LINES = 400


class DeviceUnreachable(Exception):
    """The port cannot be opened or the device does not answer (exit code 3)."""


class DeviceRefused(CommandError):
    """The device answered ``ERR <code> <message>`` (exit code 1)."""

    def __init__(self, command: str, reply: Reply) -> None:
        super().__init__(f"{command}: device error {reply.code}: {reply.message}")
        self.reply = reply


@dataclass
class Reply:
    """One answer of the console: its data lines and the final OK / ERR line."""

    ok: bool
    code: int = 0
    message: str = ""
    data: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, str]:
        """The data lines as a dict (the last value wins for a repeated key)."""
        return dict(self.data)


def parse_final(line: str) -> tuple[bool, int, str] | None:
    """``OK`` -> (True, 0, ""); ``ERR 422 apn: ...`` -> (False, 422, "apn: ..."); else None."""
    if line == "OK":
        return True, 0, ""
    if line.startswith("ERR "):
        code, _, message = line[4:].partition(" ")
        if code.isdigit():
            return False, int(code), message
    return None


class ConsoleClient:
    """A connection to the provisioning console on a pyserial port object."""

    def __init__(self, port: Any, timeout: float = 5.0) -> None:
        self.port = port
        self.timeout = timeout
        self._buf = bytearray()

    @classmethod
    def open(cls, url: str, baud: int = 115200, timeout: float = 5.0) -> ConsoleClient:
        """Open ``url`` (device path or pyserial URL); DeviceUnreachable when it cannot be."""
        import serial

        try:
            port = serial.serial_for_url(url, baudrate=baud, timeout=0.05, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceUnreachable(f"cannot open {url}: {exc}") from exc
        return cls(port, timeout)

    def close(self) -> None:
        """Close the port."""
        self.port.close()

    def _write(self, text: str) -> None:
        try:
            self.port.write(text.encode("ascii"))
            self.port.flush()
        except OSError as exc:
            raise DeviceUnreachable(f"writing to the device failed: {exc}") from exc

    def _readline(self, deadline: float) -> str:
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end]).rstrip(b"\r")
                del self._buf[: end + 1]
                return line.decode("ascii", errors="replace")
            if time.monotonic() > deadline:
                raise DeviceUnreachable(
                    f"no answer from the device within {self.timeout:g} s: check the port, "
                    "the baud rate and that the device runs the nbkit console"
                )
            try:
                chunk = self.port.read(256)
            except OSError as exc:
                raise DeviceUnreachable(f"reading from the device failed: {exc}") from exc
            self._buf.extend(chunk)
            if len(self._buf) > 64 * 1024:
                raise DeviceUnreachable("the device sends endless data without line ends")

    def sync(self) -> None:
        """End any half-typed line, switch off a terminal's echo, skip earlier output."""
        token = secrets.token_hex(4)
        self._buf.clear()
        self.port.reset_input_buffer()
        self._write(f"\r\necho off\r\nping {token}\r\n")
        deadline = time.monotonic() + self.timeout
        for _ in range(_MAX_REPLY_LINES):
            if self._readline(deadline) == f"pong: {token}":
                if self._readline(deadline) == "OK":
                    return
        raise DeviceUnreachable("the device does not answer like an nbkit console")

    def command(self, line: str) -> Reply:
        """Send one command line and return its reply (never raises on ERR)."""
        if any(c in line for c in "\r\n") or not line.isascii():
            raise CommandError("a command is one line of ASCII text")
        if len(line) > DEVICE_LINE_MAX:
            raise CommandError(f"command longer than the device's {DEVICE_LINE_MAX} characters")
        self._write(line + "\r\n")
        deadline = time.monotonic() + self.timeout
        data: list[tuple[str, str]] = []
        for _ in range(_MAX_REPLY_LINES):
            text = self._readline(deadline)
            final = parse_final(text)
            if final is not None:
                return Reply(final[0], final[1], final[2], data)
            key, sep, value = text.partition(": ")
            data.append((key, value) if sep else ("", text))
        raise DeviceUnreachable("the device answer has no end (not an nbkit console?)")

    def check(self, line: str, label: str) -> Reply:
        """Like :meth:`command` but raises :class:`DeviceRefused` on ERR."""
        reply = self.command(line)
        if not reply.ok:
            raise DeviceRefused(label, reply)
        return reply


# -- secrets ------------------------------------------------------------------------------
