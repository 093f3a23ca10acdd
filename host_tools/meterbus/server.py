"""The meter-bus emulator: one emulated meter behind a pty, plus a UDP control port.

The pty slave is what the firmware opens as its meter-bus UART. Requests are found in the byte
stream with the firmware's own scanner (``nbkit.sense.bus.scan``): wake-up bytes, noise and
broken frames are skipped, the receive buffer is bounded.

Control port (JSON datagrams on 127.0.0.1, each answered with the meter state):
``{"set": {"total": 123456}}``, ``{"valve": "closed"}``, ``{"fault": "bad_checksum",
"count": 1}``, ``{"clear_faults": true}``, ``{"get": true}``.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import sys
import termios
import time
import tty
from typing import Any, Protocol

from . import bus
from .meters import Faults

FrameError = bus.FrameError

MAX_RX = 512  #: receive buffer bound (bytes)
INTER_BYTE_S = 0.5  #: a partial frame older than this is dropped (DL/T 645 Tb <= 500 ms)


class Meter(Protocol):
    """What the server needs from an emulated meter."""

    protocol: Any

    def handle(self, raw: bytes, abnormal: bool = False) -> bytes | None: ...
    def state(self) -> dict[str, Any]: ...
    def set(self, key: str, value: Any) -> None: ...


class MeterBusServer:
    """Serves one meter on a pty until stop() (or a signal handler) clears `running`."""

    def __init__(self, meter: Meter, faults: Faults, reply_delay_s: float = 0.0) -> None:
        self.meter = meter
        self.faults = faults
        self.reply_delay_s = reply_delay_s
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave, termios.TCSANOW)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.rx = bytearray()
        self.rx_at = 0.0
        self.running = True
        self.control: socket.socket | None = None
        self.log = sys.stderr

    def open_control(self, port: int) -> int:
        """Bind the UDP control port on 127.0.0.1 (0 picks one); returns the port."""
        self.control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.control.bind(("127.0.0.1", port))
        self.control.setblocking(False)
        return int(self.control.getsockname()[1])

    def serve(self) -> None:
        """Answer requests until `running` is cleared."""
        sel = selectors.DefaultSelector()
        sel.register(self.master, selectors.EVENT_READ, "bus")
        if self.control is not None:
            sel.register(self.control, selectors.EVENT_READ, "control")
        try:
            while self.running:
                for key, _ in sel.select(timeout=0.1):
                    if key.data == "bus":
                        self._on_bus()
                    else:
                        self._on_control()
                if self.rx and time.monotonic() - self.rx_at > INTER_BYTE_S:
                    self._note(f"dropped {len(self.rx)} stale bytes")
                    self.rx.clear()
        finally:
            sel.close()

    def close(self) -> None:
        """Release the pty and the control socket."""
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.control is not None:
            self.control.close()

    def _note(self, text: str) -> None:
        print(f"meterbus: {text}", file=self.log, flush=True)

    def _on_bus(self) -> None:
        try:
            chunk = os.read(self.master, 256)
        except (BlockingIOError, OSError):
            time.sleep(0.01)  # no reader on the slave yet (EIO): don't spin
            return
        self.rx.extend(chunk)
        self.rx_at = time.monotonic()
        if len(self.rx) > MAX_RX:
            del self.rx[: len(self.rx) - MAX_RX]
        self._frames()

    def _frames(self) -> None:
        proto = self.meter.protocol
        while self.rx:
            kind, start, size = bus.scan(self.rx, proto.layouts)
            if kind == bus.NEED:
                del self.rx[:start]
                return
            if kind == bus.BAD:
                del self.rx[: start + 1]
                continue
            raw = bytes(self.rx[start : start + size])
            del self.rx[: start + size]
            self._answer(raw)

    def _answer(self, raw: bytes) -> None:
        try:
            reply = self.meter.handle(raw, abnormal=self.faults.take("abnormal"))
        except FrameError as exc:
            self._note(f"ignored request {raw.hex(' ')}: {exc}")
            return
        out = self.faults.apply(reply)
        self._note(f"<- {raw.hex(' ')}  -> {out.hex(' ') if out else '(no reply)'}")
        if out:
            if self.reply_delay_s:
                time.sleep(self.reply_delay_s)
            try:
                os.write(self.master, out)
            except OSError as exc:  # pty buffer full (nobody reading): the reply is lost
                self._note(f"reply dropped: {exc}")

    def _on_control(self) -> None:
        assert self.control is not None
        try:
            data, peer = self.control.recvfrom(4096)
        except BlockingIOError:
            return
        try:
            answer: dict[str, Any] = {"ok": True}
            self.apply(json.loads(data))
        except (ValueError, TypeError, KeyError) as exc:
            answer = {"ok": False, "error": str(exc)}
        answer["state"] = self.meter.state()
        answer["faults"] = dict(self.faults.armed)
        self.control.sendto(json.dumps(answer).encode(), peer)

    def apply(self, cmd: dict[str, Any]) -> None:
        """Apply one control command (see the module docstring)."""
        if not isinstance(cmd, dict):
            raise ValueError("a control command is a JSON object")
        for key, value in cmd.get("set", {}).items():
            self.meter.set(key, value)
        if "valve" in cmd:
            self.meter.set("valve", cmd["valve"])
        if cmd.get("clear_faults"):
            self.faults.clear()
        if "fault" in cmd:
            self.faults.arm(cmd["fault"], int(cmd.get("count", -1)))
