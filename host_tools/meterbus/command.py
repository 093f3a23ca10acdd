"""`nbkit meterbus`: emulate a CJ/T 188 water/gas meter, a DL/T 645 electricity meter or an M-Bus
heat/water meter (EN 13757) on a pty.

The first stdout line is the pty path (open it as the meter-bus UART, 2400 8E1 on a real line);
the second is ``control 127.0.0.1:PORT`` when the UDP control port is on. Serves until SIGINT or
SIGTERM, then exits 0. Each request and reply is logged on stderr.

Control port: one JSON object per datagram, answered with {"ok", "state", "faults"}:
  {"set": {"total": 123456}}          registers (same names and units as --set)
  {"valve": "closed"}                 CJ/T 188 valve state
  {"fault": "no_reply", "count": 1}   arm a fault (count -1: until cleared, 0: clear it)
  {"clear_faults": true}              disarm every fault
  {"get": true}                       just the state

Under a rig's time master (--clock sim:HOST:PORT:CHAN, as `nbkit demo` starts it) the bus runs
in device time: each byte costs its bit time (2400 8E1: 4.58 ms), a reply starts the standard's
answer delay after the request's last byte (DL/T 645 / CJ/T 188 500 ms, M-Bus 330 bit times +
50 ms, plus --reply-delay-ms) and the meter's date/time field is the master's time.

M-Bus: primary --address 0-250, --ident (8-digit secondary address), --meter-type heat|water;
registers energy (Wh), volume (L), power (W), flow (L/h), flow_temp/return_temp (0.01 C).

Example: nbkit meterbus --protocol dlt645 --set forward=12345678 --fault garbage:1
         nbkit meterbus --protocol mbus --address 5 --ident 12345678 --set energy=1234500
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from host_tools.emulator.clock import check_shared_scale
from host_tools.errors import CommandError

from .line import Line
from .meters import FAULTS, Faults
from .protocols import PROTOCOLS
from .server import Meter, MeterBusServer


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), required=True)
    parser.add_argument(
        "--address", help="meter address (14 digits CJ/T 188, 12 DL/T 645, 0-250 M-Bus primary)"
    )
    parser.add_argument("--ident", help="M-Bus secondary address (8 digits)")
    parser.add_argument(
        "--meter-type",
        choices=sorted({t for name in PROTOCOLS for t in persona(name).METER_TYPES}),
        default=None,
        help="CJ/T 188 water/hot-water/gas (default water); M-Bus heat/water (default heat)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=INT",
        help="set a register: cjt188 total/settle (0.01 m3), dlt645 forward/reverse (0.01 kWh),"
        " voltage (0.1 V), current (0.001 A), power (0.0001 kW), ... (repeatable)",
    )
    parser.add_argument("--valve", choices=("open", "closed"), help="CJ/T 188 valve state")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[:COUNT]",
        help=f"inject a fault into the next COUNT replies (default all): {', '.join(FAULTS)}",
    )
    parser.add_argument(
        "--control-port",
        type=int,
        default=None,
        metavar="PORT",
        help="UDP control port on 127.0.0.1 (0 picks a free one) taking JSON commands",
    )
    parser.add_argument("--reply-delay-ms", type=int, default=0, help="delay before each reply")
    parser.add_argument(
        "--clock",
        metavar="WALL_START,EPOCH,1|sim:HOST:PORT:CHAN",
        help="real time shared with the board (SCALE 1) for the meter's date/time field; "
        "sim:...: join a rig's time master (the bus then costs its bit time and each reply "
        "comes after the protocol's answer delay, in device time)",
    )


def virtual_clock(spec: str | None) -> Callable[[], float]:
    """`virtual_s = epoch + (time.time() - wall_start)` (a shared wall clock: SCALE 1), or real
    time without a spec."""
    if not spec:
        return time.time
    try:
        wall_start, epoch, scale = (float(x) for x in spec.split(","))
    except ValueError as exc:
        raise CommandError(f"--clock {spec!r}: expected WALL_START,EPOCH,SCALE numbers") from exc
    check_shared_scale(spec, scale)
    return lambda: epoch + (time.time() - wall_start)


def persona(protocol: str) -> Any:
    """The host module of a registered protocol: its emulated meter and decoder."""
    return importlib.import_module(f"host_tools.meterbus.persona_{protocol}")


def build_meter(args: argparse.Namespace, now: Callable[[], float] | None = None) -> Meter:
    """The emulated meter the options describe (each protocol's persona builds its own);
    ``now``: its date/time source (default: the --clock triple, or real time)."""
    try:
        meter: Meter = persona(args.protocol).build(args, now or virtual_clock(args.clock))
        if args.address:
            meter.set("address", args.address)
        for item in args.set:
            name, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--set {item!r}: expected NAME=INT")
            meter.set(name, int(value))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    return meter


def build_faults(specs: list[str]) -> Faults:
    """Faults armed from --fault NAME[:COUNT] options."""
    faults = Faults()
    for spec in specs:
        name, _, count = spec.partition(":")
        try:
            faults.arm(name, int(count) if count else -1)
        except ValueError as exc:
            raise CommandError(f"--fault {spec!r}: {exc}") from exc
    return faults


def _sim_client(spec: str) -> tuple[Any, str]:
    """``sim:HOST:PORT:CHAN``: a participant of the rig's time master named ``CHAN.meterbus``."""
    from host_tools.simclock.client import SimClient, parse_spec

    addr, chan = parse_spec(spec)
    return SimClient(addr, f"{chan}.meterbus"), chan


def build_server(args: argparse.Namespace) -> MeterBusServer:
    """The server the options describe; under ``--clock sim:...`` a time-master participant
    whose line runs at the protocol's speed with its persona's answer delay."""
    faults = build_faults(args.fault)
    delay = args.reply_delay_ms / 1000
    if not (args.clock or "").startswith("sim:"):
        return MeterBusServer(build_meter(args), faults, delay)
    sim, chan = _sim_client(args.clock)
    _, baud, parity = PROTOCOLS[args.protocol]
    line = Line(baud, parity, persona(args.protocol).ANSWER_DELAY_S + delay)
    server = MeterBusServer(build_meter(args, sim.now), faults, sim=sim, line=line, chan=chan)
    sim.counters = server.counters
    return server


def run(args: argparse.Namespace) -> int:
    if args.reply_delay_ms < 0:
        raise CommandError(f"--reply-delay-ms {args.reply_delay_ms}: give 0 or more")
    server = build_server(args)
    meter = server.meter

    def stop(signum: int, frame: FrameType | None) -> None:
        server.running = False

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        print(server.path, flush=True)
        if args.control_port is not None:
            port = server.open_control(args.control_port)
            print(f"control 127.0.0.1:{port}", flush=True)
        print(f"meterbus: {args.protocol} meter {meter.state()}", file=sys.stderr, flush=True)
        server.serve()
    finally:
        server.close()
        if server.sim is not None:
            server.sim.close()
    return 0
