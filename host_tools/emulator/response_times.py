"""How long each emulated module takes to answer, per persona: the modem side of device time.

Device time for work is modelled, never measured (issue 13): the host's speed must not change
what the DTE sees, so every command's answer leaves the module a fixed, sourced time after the
command's last byte arrived (``Modem._run``), on top of the UART bit time of both directions
(host_tools.emulator.uart). The same pattern as Renode's AT-command modem models
(``CommandResponseDelayMilliseconds``: the response is scheduled on the virtual clock).

Where the numbers come from. Quectel's AT manuals give a *maximum* response time per command
(the bound a driver's timeout must cover), not a typical one; the figures below are TYPICAL
values, each labelled:

* ``[manual]`` a figure from a Quectel manual as quoted in /work/shared/reference/at-modems.md;
* ``[driver]`` a bound taken from public drivers' timeouts (at-modems.md 5 and 7): the typical
  value is an estimate well inside it;
* ``[estimate]`` no published typical figure found: an estimate, to replace with a measurement
  (a timestamped UART capture of a real module, e.g. ``nbkit demo --modem-port``).

What is not here: network-side times (registration, RRC setup, air time, release, paging) are
the network model's (host_tools/energy/timing.py, shared with the energy model); the reboot time
after ``AT+NRB`` is ``ModemOptions.boot_time`` (timing.py ``boot_s``); URCs that follow an
``OK`` (``+QIOPEN``, ``+QMTCONN``, ``SEND OK``) come when the real socket/broker answers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delay:
    """One modelled time in seconds and where it comes from."""

    seconds: float
    source: str


@dataclass(frozen=True)
class ModemTiming:
    """A persona's UART rate, answer times per command family and wake behaviour."""

    #: UART rate out of the box (``--baud`` / board data / ``AT+IPR`` change it) and its source
    baud: int
    baud_source: str
    #: answer time of every command no family below names (local settings and queries)
    default: Delay
    #: (normalised command prefix, answer time); the longest matching prefix wins
    families: tuple[tuple[str, Delay], ...]
    #: a module woken from PSM (or asleep at CFUN=0) by the UART stays awake this long after
    #: the last byte of the exchange before it sleeps again
    wake_hold: Delay

    def response_delay(self, command: str) -> float:
        """Seconds between the last byte of ``command`` (normalised text) and its answer."""
        best, delay = -1, self.default.seconds
        for prefix, value in self.families:
            if command.startswith(prefix) and len(prefix) > best:
                best, delay = len(prefix), value.seconds
        return delay

    def rows(self) -> list[tuple[str, float, str]]:
        """(family, seconds, source) for every entry, for --help texts and reports."""
        out = [("UART baud", float(self.baud), self.baud_source)]
        out.append(("(other commands)", self.default.seconds, self.default.source))
        out += [(p, d.seconds, d.source) for p, d in self.families]
        out.append(("awake after UART activity", self.wake_hold.seconds, self.wake_hold.source))
        return out


_LOCAL = Delay(
    0.005,
    "[estimate] a setting or query answered by the application core without the protocol "
    "stack: a few ms (u-blox's manuals call this class 'immediate'; the BC95 driver "
    "timeouts for ATE0/CMEE are 300 ms, at-modems.md 7)",
)
_STACK_QUERY = Delay(
    0.02,
    "[estimate] a query the application core forwards to the protocol core (CSQ, CEREG?, "
    "NUESTATS, CGATT?): tens of ms; drivers allow 300 ms-5 s [driver] (at-modems.md 7)",
)
_SEND = Delay(
    0.05,
    "[estimate] OK once the datagram is queued for the protocol stack, before any air time "
    "(air time and +NSOSTR come from the network model); drivers allow 5 s [driver] "
    "(firmware bc95.py, TinyGSM)",
)
_SOCKET = Delay(
    0.02,
    "[estimate] socket create/close in the module's IP stack; drivers allow 1 s [driver] "
    "(mbed-os QUECTEL_BC95_CellularStack, firmware bc95.py)",
)
_CFUN_ON = Delay(
    1.0,
    "[estimate] radio and SIM power-up before OK (the search that follows is the network "
    "model's attach_s); drivers allow 15 s [driver] (firmware BC95_ATTACH)",
)
_CFUN_OFF = Delay(
    2.0,
    "[estimate] detach signalling before OK: the shared timing model's detach_s "
    "(host_tools/energy/timing.py, an assumption there too); drivers allow 10 s [driver]",
)
_CGATT = Delay(
    0.05,
    "[estimate] OK when the attach request is started (the registration comes later, "
    "network model); TinyGSM waits up to 60 s for the whole attach [driver] (at-modems.md 5)",
)
_PDP = Delay(
    0.5,
    "[estimate] PDP context activation round trip on a registered Cat1 link before OK; "
    "drivers allow 5-150 s [driver] (firmware ec200.py _QIACT_MS)",
)
_OPEN = Delay(
    0.05,
    "[estimate] OK when the open is started; the result URC (+QIOPEN / +QMTOPEN / +QMTCONN) "
    "comes when the real peer answers. Drivers wait 60 s (QIOPEN), 75 s (QMTOPEN), 10 s "
    "(QMTCONN) for the URC [driver] (at-modems.md 7)",
)
_PROMPT = Delay(
    0.02,
    "[estimate] the '> ' data prompt of AT+QISEND / AT+QMTPUB; SEND OK comes after the "
    "payload (drivers allow 10 s for it [driver], at-modems.md 7)",
)

_REBOOT = Delay(
    0.005,
    "[estimate] REBOOTING is printed at once (at-modems.md 1.1, two logs); the reboot itself "
    "lasts ModemOptions.boot_time = timing.py boot_s 3 s (an assumption there: no BC95 figure; "
    "drivers wait 10 s + 30 s [driver], at-modems.md 7)",
)

_HUAWEI = ModemTiming(
    baud=9600,
    baud_source="at-modems.md 0: 'Default UART 9600 8N1 on BC95' [manual]",
    default=_LOCAL,
    families=(
        ("AT+CSQ", _STACK_QUERY),
        ("AT+CEREG?", _STACK_QUERY),
        ("AT+CGATT?", _STACK_QUERY),
        ("AT+NUESTATS", _STACK_QUERY),
        ("AT+CGPADDR", _STACK_QUERY),
        ("AT+NSOST=", _SEND),
        ("AT+NSOSTF=", _SEND),
        ("AT+NMGS=", _SEND),
        ("AT+NSOCR=", _SOCKET),
        ("AT+NSOCL=", _SOCKET),
        ("AT+NSORF=", _STACK_QUERY),
        ("AT+CFUN=1", _CFUN_ON),
        ("AT+CFUN=0", _CFUN_OFF),
        ("AT+CGATT=", _CGATT),
        ("AT+NRB", _REBOOT),
    ),
    wake_hold=Delay(
        1.0,
        "[estimate] no figure published for the Huawei firmware; shorter than the MTK "
        "modules' 10 s AT sleep lock (at-modems.md 2.3) because the BC95 sleeps as soon as "
        "the application core is idle",
    ),
)

_QUECTEL_FAMILIES: tuple[tuple[str, Delay], ...] = (
    ("AT+CSQ", _STACK_QUERY),
    ("AT+CEREG?", _STACK_QUERY),
    ("AT+CGREG?", _STACK_QUERY),
    ("AT+CREG?", _STACK_QUERY),
    ("AT+CGATT?", _STACK_QUERY),
    ("AT+QENG", _STACK_QUERY),
    ("AT+QIOPEN=", _OPEN),
    ("AT+QMTOPEN=", _OPEN),
    ("AT+QMTCONN=", _OPEN),
    ("AT+QICLOSE=", _SOCKET),
    ("AT+QISEND=", _PROMPT),
    ("AT+QMTPUB=", _PROMPT),
    ("AT+QIRD=", _STACK_QUERY),
    ("AT+QIACT=", _PDP),
    ("AT+CFUN=1", _CFUN_ON),
    ("AT+CFUN=0", _CFUN_OFF),
    ("AT+CGATT=", _CGATT),
    ("AT+QRST=", _REBOOT),
)

_MTK_HOLD = Delay(
    10.0,
    "the ~10 s 'sleep lock' MTK firmware takes after every AT command (AT+QRELLOCK releases "
    "it; at-modems.md 2.3, Renode Quectel model comment) [driver]",
)

TIMINGS: dict[str, ModemTiming] = {
    "bc95": _HUAWEI,
    "bc28": _HUAWEI,
    "ec200": ModemTiming(
        baud=115200,
        baud_source="boards/unix_sim_ec200.json modem.uart.baud (EC200 main UART)",
        default=_LOCAL,
        families=_QUECTEL_FAMILIES,
        wake_hold=Delay(
            1.0,
            "[estimate] a Cat1 module with AT+QSCLK=1 sleeps again soon after the UART is "
            "quiet (the DTR/RI handshake is not modelled, at-modems.md 2.4)",
        ),
    ),
    "bc26": ModemTiming(
        baud=9600,
        baud_source="[estimate] the BC95 class default (at-modems.md 0)",
        default=_LOCAL,
        families=_QUECTEL_FAMILIES,
        wake_hold=_MTK_HOLD,
    ),
    "bc660k": ModemTiming(
        baud=115200,
        baud_source="boards/unix_sim_bc660k.json modem.uart.baud",
        default=_LOCAL,
        families=_QUECTEL_FAMILIES,
        wake_hold=Delay(
            10.0,
            "[estimate] as the BC26/BC66 10 s AT sleep lock (at-modems.md 2.3); the BC660K-GL "
            "manual's lock time is not in the reference",
        ),
    ),
}


def timing_for(persona: str) -> ModemTiming:
    """The timing table of ``persona`` (a key of host_tools.emulator.persona.PERSONAS)."""
    return TIMINGS[persona]
