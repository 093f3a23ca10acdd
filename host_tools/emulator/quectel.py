"""Quectel-firmware personas: ``ec200`` (LTE Cat1, EC200/EC600 class) and ``bc26`` (NB-IoT, MTK).

What differs from the Huawei BC95/BC28 personas (``modem.py``), from at-modems.md §3-§4:

* Information responses and URCs have a space after the colon: ``+CEREG: 0,1``,
  ``+QIOPEN: 0,0``, ``+CSQ: 22,99``; TAC/CI are quoted; AcT 7 (Cat1) or 9 (NB-IoT).
* Boot ends with ``RDY`` (then ``+CPIN: READY`` on the Cat1 module) instead of the Neul banner.
* Data mode: ``AT+QISEND=<id>,<len>`` / ``AT+QMTPUB...`` answer the prompt ``\\r\\n> `` (no line
  end after it); the next bytes from the DTE are payload, taken verbatim by count (or up to
  Ctrl-Z for the forms without a length; ESC cancels those). A CRLF-terminated command's LF that
  arrives in the same write as its CR is not payload.
* Sockets (:mod:`.qsock`) and MQTT (:mod:`.qmqtt`) are real: TCP/UDP on 127.0.0.1 and a paho
  MQTT client connected to a real broker.

Boot lines, ``AT+QSCLK`` (the DTR pin is not modelled: a pty has none) and the exact text of
less common replies follow the Quectel manuals' conventions and are not verified on hardware.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from host_tools.emulator.argcheck import _int  # noqa: F401 - shared with the Quectel handlers
from host_tools.emulator.atparse import Command
from host_tools.emulator.bridge import ThreadBridge
from host_tools.emulator.modem import CRLF, CmdError, Handler, Modem, Reply
from host_tools.emulator.scenario import Fault

if TYPE_CHECKING:
    from host_tools.emulator.modem import ModemOptions
    from host_tools.emulator.reactor import Reactor, UartOutput
    from host_tools.emulator.records import Spy, Timeline
    from host_tools.emulator.scenario import Scenario

#: marks a Reply whose "final result" is the data-mode prompt
PROMPT = "> "
CTRL_Z = 0x1A
ESC = 0x1B
#: longest payload taken in Ctrl-Z mode before the modem gives up (ERROR)
MAX_CTRLZ_PAYLOAD = 4096
BAD_PARAMS = 50
NOT_ALLOWED = 3


class RawSink:
    """Payload bytes after a prompt: exactly ``length`` bytes, or up to Ctrl-Z (``None``)."""

    def __init__(
        self, length: int | None, done: Callable[[bytes | None], None], limit: int
    ) -> None:
        self.length, self.done, self.limit = length, done, limit
        self.buf = bytearray()

    def take(self, data: bytes) -> tuple[bool, bytes]:
        """Consume what belongs to the payload; returns (finished, leftover bytes)."""
        if self.length is not None:
            need = self.length - len(self.buf)
            self.buf += data[:need]
            if len(self.buf) < self.length:
                return False, b""
            self.done(bytes(self.buf))
            return True, data[need:]
        for i, byte in enumerate(data):
            if byte == CTRL_Z:
                self.done(bytes(self.buf))
                return True, data[i + 1 :]
            if byte == ESC:
                self.done(None)
                return True, data[i + 1 :]
            if len(self.buf) >= self.limit:
                self.done(None)
                return True, data[i + 1 :]
            self.buf.append(byte)
        return False, b""


class Sessions(Protocol):
    """A feature module's session table (QI sockets, MQTT clients) owned by the modem."""

    def close_all(self) -> None:
        """Close everything (reboot, emulator exit)."""

    def context_lost(self) -> None:
        """The PDP context went down under the open sessions."""


S = TypeVar("S")


class QuectelModem(Modem):
    """A Quectel-firmware module (EC200 or BC26 persona) with QI sockets and the MQTT client."""

    def __init__(
        self,
        opts: ModemOptions,
        reactor: Reactor,
        output: UartOutput,
        *,
        timeline: Timeline,
        spy: Spy,
        scenario: Scenario | None = None,
        commands: dict[str, Handler],
        sessions: Sequence[Callable[[QuectelModem], Sessions]] = (),
    ) -> None:
        super().__init__(
            opts,
            reactor,
            output,
            timeline=timeline,
            spy=spy,
            scenario=scenario,
            commands=commands,
        )
        self.bridge = ThreadBridge(reactor)
        #: the session tables of the feature modules (QI sockets, MQTT clients), in that order
        self.sessions: list[Sessions] = [make(self) for make in sessions]
        self.spy = spy
        self.contexts: dict[int, tuple[str, str, str, int]] = {1: ("", "", "", 0)}
        self.stats["pdp_deactivations"] = 0

    def _reset_volatile(self) -> None:
        super()._reset_volatile()
        self.raw: RawSink | None = None
        self.creg_n = 0
        self.cgreg_n = 0
        self.qsclk = 0
        self.active: set[int] = set()
        self.deactivated: set[int] = set()

    # -- lifecycle ----------------------------------------------------------------------------

    def reboot(self, cause: str) -> None:
        for table in getattr(self, "sessions", ()):  # none yet during the first boot
            table.close_all()
        super().reboot(cause)

    def _boot_done(self, cause: str) -> None:
        lines = ["RDY"]
        if self.persona.act == 7:
            lines += ["+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"]
        self.output.write(b"".join(CRLF + s.encode() + CRLF for s in lines))
        self.booting = False
        self.first_error_pending = self.opts.first_command_error
        self.net.boot_done(radio_on=True)

    def close(self) -> None:
        for table in self.sessions:
            table.close_all()
        self.bridge.close()
        super().close()

    # -- input: lines, or payload bytes after a prompt ----------------------------------------

    def feed(self, data: bytes) -> None:
        if self.booting:
            self.stats["ignored_bytes"] += len(data)
            return
        while data:
            if self.raw is not None:
                finished, data = self.raw.take(data)
                if finished:
                    self.raw = None
                continue
            cut = data.find(b"\r")
            chunk, data = (data, b"") if cut < 0 else (data[: cut + 1], data[cut + 1 :])
            for line in self.assembler.feed(chunk):
                if self.booting:
                    return
                self.handle_line(line)
            if self.raw is not None and data.startswith(b"\n"):
                data = data[1:]  # the LF of a CRLF-terminated command, not payload

    def expect_payload(self, length: int | None, done: Callable[[bytes | None], None]) -> Reply:
        """Enter data mode: the reply is the prompt, ``done(payload or None)`` runs after."""
        self.raw = RawSink(length, done, MAX_CTRLZ_PAYLOAD)
        return Reply(final=PROMPT)

    def _frame(
        self, reply: Reply | None, error: int | None, urcs: list[str], extra: Fault | None
    ) -> bytes:
        if reply is not None and reply.final == PROMPT:
            return CRLF + PROMPT.encode()
        return super()._frame(reply, error, urcs, extra)

    def final(self, text: str) -> None:
        """A late final result (``SEND OK``, ``OK`` after a payload, ``ERROR``)."""
        if text == "ERROR":
            self.output.write(self._error_bytes(None))
        else:
            self.output.write(CRLF + text.encode() + CRLF)

    def urc_bytes(self, line: str, data: bytes = b"") -> None:
        """A URC line followed by raw bytes (``+QIURC: "recv",id,len`` + payload)."""
        if self._after is not None:  # raised during a command: after its final result
            self.reactor.call_later(0.0, lambda: self.urc_bytes(line, data))
            return
        self.output.write(CRLF + line.encode("latin-1") + CRLF + data)

    # -- network URCs -------------------------------------------------------------------------

    def reg_text(self, name: str, n: int, read: bool) -> str:
        """``+CEREG: ...``/``+CGREG``/``+CREG`` in the Quectel layout for report mode ``n``."""
        net = self.net
        stat = 2 if net.lost and net.cfun and net.stat in (1, 5) else net.stat
        fields = [str(n), str(stat)] if read else [str(stat)]
        if n >= 2 and net.registered:
            fields += [f'"{net.cfg.tac}"', f'"{net.cfg.ci}"', str(self.persona.act)]
            if n >= 4 and name == "CEREG" and net.granted_active is not None:
                fields += ["", "", f'"{net.granted_active}"', f'"{net.granted_tau or ""}"']
        return f"+{name}: " + ",".join(fields)

    def _on_network(self, kind: str, value: int) -> None:
        if kind == "cereg":
            for name, n in (
                ("CEREG", self.cereg_n),
                ("CGREG", self.cgreg_n),
                ("CREG", self.creg_n),
            ):
                if n:
                    self.urc(self.reg_text(name, n, read=False))
        elif kind == "cscon" and self.cscon_n == 1:
            self.urc(f"+CSCON: {value}")

    def urc(self, line: str) -> None:
        if self._collect is not None and line.startswith(("+CEREG", "+CGREG", "+CREG")):
            self._collect.append(line)
        elif self._after is not None:
            self._after.append(line)
        else:
            self.output.write(CRLF + line.encode("latin-1") + CRLF)

    def _clock_fault(self, fault: Fault) -> None:
        if fault.kind == "pdpdeact":
            self.stats["faults"] += 1
            fault.fired += 1
            self.pdp_deactivated(1)
        else:
            super()._clock_fault(fault)

    def context_active(self, cid: int) -> bool:
        """True when PDP context ``cid`` carries data (BC26: context 1 comes with the attach)."""
        if self.persona.act == 9 and cid == self.persona.contexts[0]:
            return self.net.registered and cid not in self.deactivated
        return cid in self.active and self.net.registered

    def session(self, kind: type[S]) -> S:
        """This modem's session table of ``kind`` (e.g. ``QSocketTable``, ``MqttClients``)."""
        for table in self.sessions:
            if isinstance(table, kind):
                return table
        raise LookupError(f"the {self.persona.name} persona has no {kind.__name__}")

    def contexts_lost(self) -> None:
        """A PDP context went down: every session table drops what ran on it."""
        for table in self.sessions:
            table.context_lost()

    def pdp_deactivated(self, cid: int) -> None:
        """The network tore down the PDP context: sockets and MQTT links on it are dead."""
        if not self.context_active(cid):
            return
        self.active.discard(cid)
        self.deactivated.add(cid)
        self.stats["pdp_deactivations"] += 1
        self.contexts_lost()
        self.urc(f'+QIURC: "pdpdeact",{cid}')


# -- what the Quectel handlers share (qcommands, qsock, qmqtt) ---------------------------------


def _args(cmd: Command, lo: int, hi: int) -> list[str]:
    if cmd.kind != "set" or not lo <= len(cmd.args) <= hi:
        raise CmdError(BAD_PARAMS)
    return cmd.args


def q(m: Modem) -> QuectelModem:
    """The modem as a QuectelModem (Quectel handlers are only registered for those)."""
    assert isinstance(m, QuectelModem)
    return m
