"""`nbkit emulate`: a BC95/BC28 modem on a pty, with a network model, real UDP and faults.

The first line on stdout is the pty device path (``/dev/pts/N``) for the DTE to open (the
MicroPython ``execpty:`` convention); the emulator serves until SIGINT/SIGTERM, then exits 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from nbkit.lte import timers  # type: ignore[import-not-found,unused-ignore]

from host_tools.emulator.clock import SimTime, VirtualClock
from host_tools.emulator.modem import ModemOptions
from host_tools.emulator.network import NetworkConfig
from host_tools.emulator.persona import PERSONAS
from host_tools.emulator.scenario import Scenario, load
from host_tools.emulator.uart import check_baud
from host_tools.energy.timing import DEFAULT as TIMING
from host_tools.files.rotating import DEFAULT_MAX_BYTES, open_log, size_arg

_EPILOG = """\
clocks: --clock sim:HOST:PORT:CHAN joins a time master (a rig, `nbkit demo`, `nbkit fleet`):
device time moves only when every process waits, so nothing depends on the host's speed.
Without --clock the emulator keeps a wall clock, virtual_s = EPOCH + (time.time() - WALL_START)
* SCALE, for a DTE outside any rig that waits in wall time (a terminal, a C driver, pyserial);
--time-scale makes its timers run faster for such a DTE. At scale 1 it prints `--clock W,E,1`
on stderr, for a virtual board to share that real-time clock (a shared clock runs at scale 1).

outputs: --spy FILE gets every UART byte both ways (and each UDP datagram) as JSON Lines
{"wall","t","dir","hex","text"}; --timeline FILE gets the modem state timeline as JSON Lines
{"t","state","ce"} with states off/boot/search/connected/tx/awake/idle/edrx/psm
(docs/architecture.md); "awake" = woken from PSM/CFUN=0 by UART bytes, with "cause".

device time for work: every UART byte costs 10 bits at --baud, and each command is answered
after its modelled response time (host_tools/emulator/response_times.py, sourced per persona).

scenario file (JSON, or TOML when the name ends in .toml): {"faults": [ ... ]}, each fault a
"kind" plus a trigger. Command faults use "match" (normalised command prefix such as
"AT+NSOST="), "nth" (default 1) and "times" (default 1):
  error [cme]            answer ERROR / +CME ERROR: <cme> instead of executing
  drop                   execute, send no response       delay seconds  respond later
  garbage hex            bytes before the response       split [at_byte] [pause]  two writes
  urc_before_ok urc      a URC line between the response and OK
  reboot [cause]         no answer; the module resets mid-command
Clock faults use "at" (virtual seconds after start):
  coverage_loss duration [stat=2|0]   deny_psm [duration]   uplink_busy sends (CME 159)
  ce_level level   garbage hex   urc urc   reboot [cause]   pdpdeact (ec200/bc26)
  server_down [duration] (NSO datagrams lost past the radio)   duplicate_downlinks [duration]
  delay_downlinks seconds [duration]   reorder_downlinks [seconds] [duration] (an older
  ack arrives ahead of each downlink, which follows seconds later)
example: {"faults": [{"kind": "error", "match": "AT+NSOST=", "nth": 2, "cme": 159},
                     {"kind": "coverage_loss", "at": 120, "duration": 60}]}
"""


def _bits(check: Callable[[str], object], what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        bits = text.strip('"')
        try:
            check(bits)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{what}: {exc}") from None
        return bits

    return parse


def _digits(lo: int, hi: int, what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not (text.isdigit() and lo <= len(text) <= hi):
            raise argparse.ArgumentTypeError(f"{what} must be {lo}-{hi} digits, got {text!r}")
        return text

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"seconds must be >= 0, got {text!r}")
    return value


def _baud(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a baud rate: {text!r} (e.g. 9600)")
    try:
        return check_baud(int(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    add = parser.add_argument
    add(
        "--modem",
        choices=sorted(PERSONAS),
        default="bc28",
        help="persona: bc95 (512-byte datagrams, NSONMI mode 1 only), bc28 (default), "
        "ec200 (LTE Cat1, QI sockets + MQTT), bc26 (NB-IoT, QI sockets + MQTT) or bc660k "
        "(BC660K-GL NB-IoT: QI sockets on context 0, PSM events, deep sleep)",
    )
    clock = parser.add_mutually_exclusive_group()
    clock.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="SCALE",
        help="virtual seconds per wall second of this emulator's own wall clock, for a DTE in "
        "wall time (default 1; a clock shared with a board runs at 1)",
    )
    clock.add_argument(
        "--clock",
        metavar="WALL_START,EPOCH,1|sim:HOST:PORT:CHAN",
        help="share a real-time clock (SCALE 1), or join a rig's time master (see below)",
    )
    add("--scenario", type=Path, metavar="FILE", help="fault-injection scenario (JSON/TOML)")
    add("--spy", type=Path, metavar="FILE", help="log every byte both ways (JSON Lines)")
    add("--timeline", type=Path, metavar="FILE", help="modem state timeline (JSON Lines)")
    add(
        "--log-max-bytes",
        type=size_arg,
        default=DEFAULT_MAX_BYTES,
        metavar="N",
        help="--spy/--timeline: rotate at this size, keeping FILE.1..FILE.3 (default 16M)",
    )
    add("--imei", type=_digits(15, 15, "IMEI"), default=ModemOptions.imei)
    add("--imsi", type=_digits(6, 15, "IMSI"), default=ModemOptions.imsi)
    add("--iccid", type=_digits(19, 20, "ICCID"), default=ModemOptions.iccid)
    net = parser.add_argument_group("network model (virtual seconds)")
    net.add_argument(
        "--reg-delay",
        type=_seconds,
        default=NetworkConfig.reg_delay,
        help="search time before registration (default: attach_s of the shared timing model "
        "for the CE level, " + "/".join(f"{v:g}" for v in TIMING.attach_s) + " s)",
    )
    net.add_argument(
        "--rrc-inactivity",
        type=_seconds,
        default=NetworkConfig.rrc_inactivity,
        help="RRC release after this much silence (default %(default)s)",
    )
    net.add_argument(
        "--release-delay",
        type=_seconds,
        default=NetworkConfig.release_delay,
        help="release after NSOSTF 0x200 / the 0x400 reply (default %(default)s)",
    )
    net.add_argument(
        "--deny-psm",
        action="store_true",
        help="the network never grants PSM (the module stays in idle DRX)",
    )
    net.add_argument(
        "--nw-tau",
        type=_bits(timers.decode_t3412, "--nw-tau"),
        metavar="BITS",
        help="T3412 the network grants instead of the requested",
    )
    net.add_argument(
        "--nw-active",
        type=_bits(timers.decode_t3324, "--nw-active"),
        metavar="BITS",
        help="T3324 the network grants instead of the requested",
    )
    net.add_argument(
        "--nw-edrx",
        type=_bits(timers.decode_edrx_ms, "--nw-edrx"),
        metavar="BITS",
        help="eDRX cycle the network grants (4 bits)",
    )
    net.add_argument(
        "--ce-level",
        type=int,
        choices=(0, 1, 2),
        default=0,
        help="coverage enhancement level (tx time, CSQ, NUESTATS)",
    )
    mod = parser.add_argument_group("module behaviour")
    mod.add_argument(
        "--boot-time",
        type=_seconds,
        default=ModemOptions.boot_time,
        help="reset to banner (default %(default)s)",
    )
    mod.add_argument(
        "--first-command-error",
        action="store_true",
        help="the first command after each boot answers ERROR",
    )
    mod.add_argument("--echo", action="store_true", help="start with echo on (ATE1)")
    mod.add_argument(
        "--baud",
        type=_baud,
        metavar="N",
        help="UART rate, 8N1: every byte both ways costs 10 bits of device time (default: the "
        "persona's, 9600 for bc95/bc28/bc26, 115200 for ec200/bc660k; the rig passes the "
        "board's modem.uart.baud)",
    )
    add(
        "--json",
        action="store_true",
        help="after stopping, print the counters as one JSON line on stdout",
    )


def options_from_args(args: argparse.Namespace) -> ModemOptions:
    """The ModemOptions an argument namespace describes."""
    return ModemOptions(
        persona=args.modem,
        imei=args.imei,
        imsi=args.imsi,
        iccid=args.iccid,
        boot_time=args.boot_time,
        first_command_error=args.first_command_error,
        echo=args.echo,
        baud=args.baud,
        network=NetworkConfig(
            reg_delay=args.reg_delay,
            rrc_inactivity=args.rrc_inactivity,
            release_delay=args.release_delay,
            deny_psm=args.deny_psm,
            nw_tau=args.nw_tau,
            nw_active=args.nw_active,
            nw_edrx=args.nw_edrx,
            ce=args.ce_level,
        ),
    )


def _open(stack: ExitStack, path: Path | None, max_bytes: int) -> IO[str] | None:
    """A spy/timeline file of this run, rotated at ``max_bytes`` (host_tools.files.rotating)."""
    if path is None:
        return None
    return stack.enter_context(open_log(path, max_bytes, fresh=True))  # type: ignore[return-value]


def _sim_clock(spec: str) -> SimTime:
    """``sim:HOST:PORT:CHAN``: a participant of the rig's time master named ``CHAN.modem``."""
    from host_tools.simclock.client import SimClient, parse_spec

    addr, chan = parse_spec(spec)
    time = SimTime(chan)
    time.client = SimClient(addr, f"{chan}.modem", time.counters)
    return time


def run(args: argparse.Namespace) -> int:
    from host_tools.emulator.server import Emulator

    scenario = load(args.scenario) if args.scenario else Scenario()
    clock: VirtualClock | SimTime
    if args.clock and args.clock.startswith("sim:"):
        clock = _sim_clock(args.clock)
    elif args.clock:
        clock = VirtualClock.parse(args.clock)
    else:
        clock = VirtualClock.starting_now(args.time_scale)
        if args.time_scale == 1:
            print(f"nbkit emulate: --clock {clock.triple()}", file=sys.stderr, flush=True)
        else:
            print(
                f"nbkit emulate: wall clock x{args.time_scale:g} (for a DTE in wall time; "
                "a board shares time on a time master: --clock sim:HOST:PORT:CHAN)",
                file=sys.stderr,
                flush=True,
            )
    with ExitStack() as stack:
        emu = Emulator(
            options_from_args(args),
            clock,
            scenario,
            spy_stream=_open(stack, args.spy, args.log_max_bytes),
            timeline_stream=_open(stack, args.timeline, args.log_max_bytes),
        )
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: emu.stop())
        if isinstance(clock, SimTime):
            clock.watch(emu)
        print(emu.path, flush=True)
        emu.serve()
        if args.json:
            stats = dict(
                emu.modem.stats,
                dropped_uart_bytes=emu.output.dropped,
                dropped_downlink=emu.modem.net.dropped_downlink,
                uart_wakes=emu.timeline.wakes,
            )
            print(json.dumps(stats), flush=True)
    return 0
