"""The meter-bus emulator: one emulated meter behind a pty, plus a UDP control port.

The pty slave is what the firmware opens as its meter-bus UART. Requests are found in the byte
stream with the firmware's own scanner (``nbkit.sense.bus.scan``): wake-up bytes, noise and
broken frames are skipped, the receive buffer is bounded.

Control port (JSON datagrams on 127.0.0.1, each answered with the meter state):
``{"set": {"total": 123456}}``, ``{"valve": "closed"}``, ``{"fault": "bad_checksum",
"count": 1}``, ``{"clear_faults": true}``, ``{"get": true}``.

Under a rig's time master (``sim``, a :class:`host_tools.simclock.client.SimClient`) the server
is one participant: it serves what is readable, acts when its next instant is due, and
otherwise reports idle until then. The wire is modelled (:mod:`host_tools.meterbus.line`): a
request is answered after its bit time plus the meter's answer delay, the reply lands after its
own bit time; the meter reads its registers at the instant it starts answering. Bytes read from
the pty are counted as ``CHAN.bus.up<``, bytes written as ``CHAN.bus.dn>`` (the board counts the
other ends). Control commands are input from outside the rig (it sends them while it holds
time still), so they are served at once and not counted.
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import select
import selectors
import socket
import sys
import termios
import time
import tty
from typing import Any, Protocol

from . import bus
from .line import Line
from .line import slot as line_slot
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

    def __init__(
        self,
        meter: Meter,
        faults: Faults,
        reply_delay_s: float = 0.0,
        *,
        sim: Any = None,
        line: Line | None = None,
        chan: str = "m0",
    ) -> None:
        self.meter = meter
        self.faults = faults
        self.reply_delay_s = reply_delay_s
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave, termios.TCSANOW)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.rx = bytearray()
        self.rx_at = 0.0
        self.rx_at_us = 0
        self.running = True
        self.control: socket.socket | None = None
        self.log = sys.stderr
        # under a time master: the participant, the wire model, what is due when, counters
        self.sim = sim
        self.line = line or Line(2400, "even", 0.0)
        self.chan = chan
        self.due: list[tuple[int, int, str, bytes]] = []  # (t_us, seq, "answer"|"send", bytes)
        self._seq = itertools.count()
        self.read_bytes = 0
        self.written = 0

    def counters(self) -> dict[str, int]:
        """The bus channel's counters for the time master (declared from the start)."""
        return {f"{self.chan}.bus.up<": self.read_bytes, f"{self.chan}.bus.dn>": self.written}

    def open_control(self, port: int) -> int:
        """Bind the UDP control port on 127.0.0.1 (0 picks one); returns the port."""
        self.control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.control.bind(("127.0.0.1", port))
        self.control.setblocking(False)
        return int(self.control.getsockname()[1])

    def serve(self) -> None:
        """Answer requests until `running` is cleared."""
        if self.sim is not None:
            self._serve_sim()
            return
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

    # -- under the time master ---------------------------------------------------------------

    def _now_us(self) -> int:
        return int(self.sim.t_us)

    def _serve_sim(self) -> None:
        """Serve on the master's time: run what is due, serve what is readable, and only when
        nothing is left report idle until the next due instant (or input) and block. A ``now``
        is answered ``ready`` and acted on at ``go`` (or at a peer's input, which means go:
        its sender had go first); what is due at the new instant runs before that input."""
        from host_tools.simclock.client import SimFailed

        inputs: list[Any] = [self.master, self.sim]
        if self.control is not None:
            inputs.append(self.control)
        while self.running:
            if self.sim.pending is None:
                self._run_due()
            ready, _, _ = select.select(inputs, [], [], 0)
            if not ready:
                self.sim.report(None, deadline_us=self._next_due())
                ready, _, _ = select.select(inputs, [], [], 0.2)
            if self.sim in ready:
                try:
                    self.sim.on_readable()
                except SimFailed as exc:
                    self._note(str(exc))
                    return
            if any(r is not self.sim for r in ready) and self.sim.go():
                continue  # a peer's input at a new time (simclock.client.go): what is due first
            if self.master in ready:
                self._on_bus_sim()
            if self.control is not None and self.control in ready:
                self._on_control()

    def _next_due(self) -> int | None:
        times = [self.due[0][0]] if self.due else []
        if self.rx:
            times.append(self._stale_at())
        return min(times) if times else None

    def _stale_at(self) -> int:
        """When a partial request is dropped (on the meter's phase, like its replies)."""
        return line_slot(self.rx_at_us + int(INTER_BYTE_S * 1_000_000), self.rx_at_us)

    def _at(self, t_us: int, what: str, data: bytes) -> None:
        heapq.heappush(self.due, (t_us, next(self._seq), what, data))

    def _run_due(self) -> None:
        now = self._now_us()
        while self.due and self.due[0][0] <= now:
            _, _, what, data = heapq.heappop(self.due)
            if what == "answer":
                out = self._reply(data)
                if out:  # the reply's last bit: its bit time after the meter starts answering
                    self._at(line_slot(self.line.carry(now, len(out)), now), "send", out)
            else:
                self._send(data)
        if self.rx and now >= self._stale_at():
            self._note(f"dropped {len(self.rx)} stale bytes")
            self.rx.clear()

    def _on_bus_sim(self) -> None:
        now = self._now_us()
        while True:
            try:
                chunk = os.read(self.master, 256)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                return
            self.read_bytes += len(chunk)
            self.rx.extend(chunk)
            self.rx_at_us = now
            self.line.carry(now, len(chunk))  # the request's bytes take their bit time
            if len(self.rx) > MAX_RX:
                del self.rx[: len(self.rx) - MAX_RX]
            for raw in self._frames():  # each is answered after its last bit + answer delay
                self._at(self.line.answer_at(now), "answer", raw)

    def _send(self, out: bytes) -> None:
        try:
            n = os.write(self.master, out)
        except OSError as exc:  # pty buffer full (nobody reading): the reply is lost
            self._note(f"reply dropped: {exc}")
            return
        self.written += n
        if n < len(out):
            self._note(f"reply cut: {len(out) - n} bytes did not fit the pty")

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
        for raw in self._frames():
            self._answer(raw)

    def _frames(self) -> list[bytes]:
        """Take the complete request frames out of the receive buffer."""
        proto = self.meter.protocol
        out: list[bytes] = []
        while self.rx:
            kind, start, size = bus.scan(self.rx, proto.layouts)
            if kind == bus.NEED:
                del self.rx[:start]
                break
            if kind == bus.BAD:
                del self.rx[: start + 1]
                continue
            out.append(bytes(self.rx[start : start + size]))
            del self.rx[: start + size]
        return out

    def _reply(self, raw: bytes) -> bytes | None:
        """The bytes the meter puts on the line for one request (faults applied), or None."""
        try:
            reply = self.meter.handle(raw, abnormal=self.faults.take("abnormal"))
        except FrameError as exc:
            self._note(f"ignored request {raw.hex(' ')}: {exc}")
            return None
        out = self.faults.apply(reply)
        self._note(f"<- {raw.hex(' ')}  -> {out.hex(' ') if out else '(no reply)'}")
        return out

    def _answer(self, raw: bytes) -> None:
        out = self._reply(raw)
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
