"""The emulated module: boot, command dispatch, response framing, URC routing, faults.

Output framing is the Huawei firmware's (CRLF written as ``~``): an information response is
``~<line>[~<line>...]~``, then ``~OK~`` or ``~ERROR~`` / ``~+CME ERROR: <n>~`` (CMEE=1); a URC
is ``~<line>~``. URCs raised while a command runs (``+CEREG`` on ``AT+CFUN=1``) are sent
before that command's final result, as a real BC68 does. With ATE1 the echo is the command line
followed by ``\\r`` only.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from host_tools.emulator.atparse import Command, LineAssembler, ParseError, parse_line
from host_tools.emulator.network import Network, NetworkConfig
from host_tools.emulator.persona import PERSONAS
from host_tools.emulator.reactor import Reactor, UartOutput
from host_tools.emulator.records import Spy, Timeline
from host_tools.emulator.response_times import timing_for
from host_tools.emulator.scenario import Fault, Scenario
from host_tools.emulator.sockets import Datagram, SocketTable, UdpSocket
from host_tools.energy.timing import DEFAULT as TIMING

POWER_ON_CAUSE = "REBOOT_CAUSE_SECURITY_PMU_POWER_ON_RESET"
AT_CAUSE = "REBOOT_CAUSE_APPLICATION_AT"
CRASH_CAUSE = "REBOOT_CAUSE_APPLICATION_WATCHDOG"
#: what the UART shows while the chip resets (bytes at the wrong baud rate / floating line)
BOOT_GARBAGE = b"\x00\xc3\xe2F\xf8"
BANNER = (
    "Boot: Unsigned",
    "Security B.. Verified",
    "Protocol A.. Verified",
    "Apps A...... Verified",
    "",
)
CRLF = b"\r\n"


@dataclass
class ModemOptions:
    """Everything that configures one emulated module (the CLI fills this in)."""

    persona: str = "bc28"
    imei: str = "867726031076062"
    imsi: str = "460111175090234"
    iccid: str = "89860317492040263542"
    boot_time: float = TIMING.boot_s
    first_command_error: bool = False
    echo: bool = False
    network: NetworkConfig = field(default_factory=NetworkConfig)
    #: UART rate (8N1); None = the persona's default (host_tools.emulator.response_times)
    baud: int | None = None


@dataclass
class Reply:
    """A command's information lines and final result (``None``: no final result)."""

    lines: list[str] = field(default_factory=list)
    final: str | None = "OK"


class CmdError(Exception):
    """A command failed: ``+CME ERROR: <code>`` with CMEE=1 (``None``: always plain ERROR)."""

    def __init__(self, code: int | None = None) -> None:
        super().__init__(code)
        self.code = code


Handler = Callable[["Modem", Command], Reply]


class Modem:
    """One BC95/BC28 persona on a UART output, with its network and real UDP sockets."""

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
    ) -> None:
        self.opts, self.reactor, self.output = opts, reactor, output
        self.persona = PERSONAS[opts.persona]
        #: answer times per command family and the wake hold (response_times.py, sourced)
        self.timing = timing_for(opts.persona)
        self.uart_in: Any = None  # the UartInput feeding this modem (server.Emulator), if any
        self.scenario = scenario or Scenario()
        self.commands = commands  # AT name -> handler: the firmware's command table
        self.net = Network(reactor, opts.network, timeline, self._on_network)
        self.socks = SocketTable(reactor, spy, self._on_datagram)
        self.assembler = LineAssembler()
        # non-volatile settings: survive AT+NRB
        self.nconfig = dict(self.persona.nconfig)
        self.bands = list(self.persona.default_bands)
        self.cgdcont: dict[int, tuple[str, str]] = {}
        self.qregswt = 1
        self.stats = {
            "commands": 0,
            "errors": 0,
            "overlong_lines": 0,
            "ignored_bytes": 0,
            "reboots": 0,
            "faults": 0,
            "internal_errors": 0,
            "lost_to_server": 0,
        }
        # network faults past the radio (scenario `server_down`, `duplicate_downlinks`,
        # `delay_downlinks`, `reorder_downlinks`): the server silent, each downlink twice,
        # downlinks held back, each downlink overtaken by a late copy of the one before it
        self.server_down = False
        self.downlink_copies = 1
        self.downlink_delay = 0.0
        self.downlink_reorder = False
        self.reorder_gap = 0.0
        #: (server ip, port) -> the last downlink datagram from it (what a reorder replays)
        self._last_downlink: dict[tuple[str, int], bytes] = {}
        self.booting = False
        self.cdp: Any = None  # the CoAP platform session (host_tools.emulator.cdp), on first use
        self._collect: list[str] | None = None
        self._after: list[str] | None = None
        self._reset_volatile()

    def _reset_volatile(self) -> None:
        self.echo = self.opts.echo
        self.cmee = 0
        self.cereg_n = 0
        self.cscon_n = 0
        self.npsmr_n = 0
        self.nsonmi = 1
        self.first_error_pending = False
        self.pending_seq: dict[int, list[int]] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Power on: boot banner with the power-on cause; arm the scenario's clock faults."""
        start = self.started = self.reactor.now()
        for fault in self.scenario.clock_faults:
            self.reactor.call_at(
                start + (fault.at or 0.0), functools.partial(self._clock_fault, fault)
            )
        self.reboot(POWER_ON_CAUSE)

    def reboot(self, cause: str) -> None:
        """Reset now; the banner ends with ``cause`` after the boot time."""
        self.stats["reboots"] += 1
        self.booting = True
        self.output.discard_queued()
        self.socks.close_all()
        self.assembler.reset()
        self._reset_volatile()
        if self.cdp is not None:
            self.cdp.reset()
        self.net.power_cycle(booting=True)
        self.reactor.call_later(self.opts.boot_time, lambda: self._boot_done(cause))

    def _boot_done(self, cause: str) -> None:
        text = CRLF.join(s.encode() for s in (*BANNER, cause, "Neul", "OK"))
        self.output.write(BOOT_GARBAGE + CRLF + text + CRLF)
        self.booting = False
        self.first_error_pending = self.opts.first_command_error
        self.net.boot_done(radio_on=self.nconfig.get("AUTOCONNECT") == "TRUE")

    def close(self) -> None:
        self.socks.close_all()
        if self.cdp is not None:
            self.cdp.close()

    # -- input --------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from the DTE (ignored while the module boots, like the real UART)."""
        if self.booting:
            self.stats["ignored_bytes"] += len(data)
            return
        for line in self.assembler.feed(data):
            if self.booting:
                break
            self.handle_line(line)

    def handle_line(self, line: bytes | None) -> None:
        if line is None:
            self.stats["overlong_lines"] = self.assembler.overlong_lines
            self._write_error(None)
            return
        if not line.strip():
            return
        if self.echo:
            self.output.write(line + b"\r")
        if self.first_error_pending:
            self.first_error_pending = False
            self._write_error(None)
            return
        try:
            commands = parse_line(line)
        except ParseError:
            self._write_error(None)
            return
        for cmd in commands:
            if not self._run(cmd):
                break

    def _run(self, cmd: Command) -> bool:
        """Execute one command with its faults; False stops a concatenated line."""
        self.stats["commands"] += 1
        elapsed = self.reactor.now() - getattr(self, "started", self.reactor.now())
        faults = {f.kind: f for f in self.scenario.for_command(cmd.text, elapsed)}
        self.stats["faults"] += len(faults)
        if "reboot" in faults:
            self.reboot(faults["reboot"].params.get("cause", CRASH_CAUSE))
            return False
        delay = self.timing.response_delay(cmd.text)
        if "error" in faults:
            self._write_error(faults["error"].params.get("cme"), delay)
            return False
        self._collect, self._after = [], []
        try:
            handler = self.commands.get(cmd.name)
            if handler is None:
                raise CmdError(None)
            reply: Reply | None = handler(self, cmd)
            error = None
        except CmdError as exc:
            reply, error = None, exc.code
        except Exception as exc:  # a bug must not take the modem down: answer, report, go on
            self.stats["internal_errors"] += 1
            print(f"nbkit emulate: internal error on {cmd.text!r}: {exc!r}", file=sys.stderr)
            reply, error = None, None
        finally:
            urcs, after = self._collect, self._after
            self._collect = self._after = None
        data = self._frame(reply, error, urcs, faults.get("urc_before_ok"))
        self._send_with_faults(data, faults, delay)
        self._stay_awake()
        for line in after:
            self.urc(line)
        return reply is not None and not self.booting

    # -- UART activity and wakes ----------------------------------------------------------------

    def uart_activity(self, first: float, last: float, data: bytes) -> None:
        """Bytes from the DTE reach the UART (first byte at ``first``, last at ``last``): a
        module asleep (PSM, or CFUN=0) wakes now and stays awake until the exchange is over
        plus the persona's wake hold; the timeline records the wake with what caused it."""
        if self.booting:
            return
        cause = data.split(b"\r", 1)[0][:40].decode("latin-1")
        self.net.keep_awake(last + self.timing.wake_hold.seconds, cause or "uart")

    def _stay_awake(self) -> None:
        # awake until the answer has left the UART, then the wake hold
        self.net.keep_awake(self.output.busy_until + self.timing.wake_hold.seconds)

    def set_baud(self, baud: int) -> None:
        """Both directions of the UART run at ``baud`` from now on (AT+IPR)."""
        self.output.baud = baud
        if self.uart_in is not None:
            self.uart_in.baud = baud

    # -- output -------------------------------------------------------------------------------

    def _error_bytes(self, code: int | None) -> bytes:
        self.stats["errors"] += 1
        if code is not None and self.cmee == 1:
            return f"\r\n+CME ERROR: {code}\r\n".encode()
        return b"\r\nERROR\r\n"

    def _write_error(self, code: int | None, delay: float | None = None) -> None:
        wait = self.timing.default.seconds if delay is None else delay
        self.output.write(self._error_bytes(code), wait)
        self._stay_awake()

    def _frame(
        self, reply: Reply | None, error: int | None, urcs: list[str], extra: Fault | None
    ) -> bytes:
        out = bytearray()
        if reply is not None and reply.lines:
            out += CRLF + CRLF.join(s.encode("latin-1") for s in reply.lines) + CRLF
        if extra is not None:
            urcs = [*urcs, extra.params["urc"]]
        for urc in urcs:
            out += CRLF + urc.encode("latin-1") + CRLF
        if reply is None:
            out += self._error_bytes(error)
        elif reply.final is not None:
            out += CRLF + reply.final.encode() + CRLF
        return bytes(out)

    def _send_with_faults(self, data: bytes, faults: dict[str, Fault], delay: float = 0.0) -> None:
        """Write a command's answer ``delay`` s from now (its modelled response time), plus a
        "delay" fault's seconds; the other faults drop, prefix or split it."""
        if "drop" in faults:
            return
        if "garbage" in faults:
            data = faults["garbage"].garbage_bytes() + data
        if "delay" in faults:
            delay += faults["delay"].params["seconds"]
        split = faults.get("split")
        if split is None:
            self.output.write(data, delay)
            return
        cut = split.params.get("at_byte", len(data) // 2)
        self.output.write(data[:cut], delay)
        self.output.write(data[cut:], delay + split.params.get("pause", 0.2))

    def urc(self, line: str) -> None:
        """Send a URC now; while a command runs, ``+CEREG`` goes before its final result (as a
        BC68 does on ``AT+CFUN=1``) and any other URC right after it."""
        if self._collect is not None and line.startswith("+CEREG"):
            self._collect.append(line)
        elif self._after is not None:
            self._after.append(line)
        else:
            self.output.write(CRLF + line.encode("latin-1") + CRLF)

    def _on_network(self, kind: str, value: int) -> None:
        if kind == "cereg" and self.cdp is not None:
            self.cdp.kick()  # platform auto-registration after attach (AT+QREGSWT=1)
        if kind == "cereg" and self.cereg_n:
            self.urc(cereg_text(self, read=False))
        elif kind == "timers" and self.cereg_n >= 4:
            self.urc(cereg_text(self, read=False))
        elif kind == "cscon" and self.cscon_n == 1:
            self.urc(f"+CSCON:{value}")
        elif kind == "npsmr" and self.npsmr_n == 1:
            self.urc(f"+NPSMR:{value}")
        elif kind == "cedrxp" and self.net.edrx_mode == 2:
            self.urc(cedrxp_text(self))

    # -- downlink -----------------------------------------------------------------------------

    def _on_datagram(self, usock: UdpSocket, dgram: Datagram) -> None:
        delay = self.downlink_delay
        older = None
        if self.downlink_reorder:  # one datagram kept per server, only while the fault is on
            source = (dgram.ip, dgram.port)
            older = self._last_downlink.get(source)
            self._last_downlink[source] = dgram.data
        if older is not None:
            # the datagram the server sent before this one, held on the path until now: it
            # reaches the UE ahead of the newer one (an older ack arriving out of order), which
            # follows `reorder_gap` s later
            self._to_ue(usock, dataclasses.replace(dgram, data=older))
            delay += self.reorder_gap
        for n in range(self.downlink_copies):
            copy = dgram if n == 0 else dataclasses.replace(dgram)  # each read on its own
            if delay > 0:  # held back by the network
                self.reactor.call_later(delay, functools.partial(self._to_ue, usock, copy))
            else:
                self._to_ue(usock, copy)

    def _to_ue(self, usock: UdpSocket, dgram: Datagram) -> None:
        self.net.downlink(lambda: self._deliver(usock, dgram))

    def to_server(self, usock: UdpSocket, ip: str, port: int, data: bytes) -> None:
        """A datagram left the radio: on the wire, unless the server is down (scenario
        ``server_down``), when it is lost on the way, as UDP to a dead host is."""
        if self.server_down:
            self.stats["lost_to_server"] += 1
        else:
            self.socks.send(usock, ip, port, data)

    def _deliver(self, usock: UdpSocket, dgram: Datagram) -> None:
        if self.socks.get(usock.sid) is not usock or self.booting:
            return
        size, hexdata = len(dgram.data), dgram.data.hex().upper()
        mode = self.nsonmi if self.persona.nsonmi_modes else 1
        if mode == 2:
            self.urc(f"+NSONMI:{usock.sid},{dgram.ip},{dgram.port},{size},{hexdata}")
        elif mode == 3:
            self.urc(f"+NSONMI:{usock.sid},{size},{hexdata}")
        elif usock.buffer(dgram) and mode == 1:
            self.urc(f"+NSONMI:{usock.sid},{size}")

    # -- scenario clock faults ----------------------------------------------------------------

    def _clock_fault(self, fault: Fault) -> None:
        self.stats["faults"] += 1
        fault.fired += 1
        p, kind = fault.params, fault.kind
        if kind == "coverage_loss":
            self.net.coverage_loss(p["duration"], p.get("stat", 2))
        elif kind == "deny_psm":
            self.net.set_deny_psm(True)
            if "duration" in p:
                self.reactor.call_later(p["duration"], lambda: self.net.set_deny_psm(False))
        elif kind == "uplink_busy":
            self.net.busy_sends += p["sends"]
        elif kind == "ce_level":
            self.net.set_ce(p["level"])
        elif kind == "garbage":
            self.output.write(fault.garbage_bytes())
        elif kind == "urc":
            self.urc(p["urc"])
        elif kind == "reboot":
            self.reboot(p.get("cause", CRASH_CAUSE))
        elif kind in _WINDOW_FAULTS:
            self._window_fault(kind, p)
        else:  # pragma: no cover - scenario.parse rejects other kinds
            print(f"nbkit emulate: unknown clock fault {kind}", file=sys.stderr)

    def _window_fault(self, kind: str, p: dict[str, Any]) -> None:
        """A network fault for ``duration`` s (forever without one)."""
        attr, on, off = _WINDOW_FAULTS[kind]
        if kind == "delay_downlinks":
            on = p.get("seconds", 0.0)
        if kind == "reorder_downlinks":
            self.reorder_gap = p.get("seconds", 0.0)
        setattr(self, attr, on)
        if "duration" in p:
            self.reactor.call_later(p["duration"], functools.partial(setattr, self, attr, off))


#: window fault kind -> (Modem attribute, value while on, value after)
_WINDOW_FAULTS: dict[str, tuple[str, Any, Any]] = {
    "server_down": ("server_down", True, False),
    "duplicate_downlinks": ("downlink_copies", 2, 1),
    "delay_downlinks": ("downlink_delay", 0.0, 0.0),
    "reorder_downlinks": ("downlink_reorder", True, False),
}


# -- URC texts the modem raises itself (and the handlers answer on read) ------------------


def cereg_text(m: Modem, read: bool) -> str:
    """``+CEREG`` read response (``read``) or URC, laid out for the current ``n``."""
    n, net = m.cereg_n, m.net
    stat = 2 if net.lost and net.cfun and net.stat in (1, 5) else net.stat
    fields = [str(n), str(stat)] if read else [str(stat)]
    if n >= 2:
        registered = net.registered
        fields += [
            net.cfg.tac if registered else "0000",
            net.cfg.ci if registered else "00000000",
            "9",
        ]
        if n >= 4 and registered and net.granted_active is not None:
            fields += ["", "", net.granted_active, net.granted_tau or ""]
    return "+CEREG:" + ",".join(fields)


def cedrxp_text(m: Modem) -> str:
    net = m.net
    return f'+CEDRXP:5,"{net.req_edrx}","{net.granted_edrx}","0011"'
