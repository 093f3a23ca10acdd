"""`nbkit demo` / `make demo`: one simulated day of a water meter, end to end.

Starts the collector (UDP + SQLite), the BC28 modem emulator (pty, real UDP) and the virtual
board running `firmware/main.py` in MicroPython, all on one virtual clock; drives water flow into
the meter's pulse input and holds a magnet at the meter for half an hour (the tamper alarm);
prints every uplink as the collector accepts it; then a summary.
Ctrl-C stops every process it started.

`--profile` picks the device: water (pulse input, the default), gas-cjt188 / electricity-dlt645 /
heat-mbus
(an emulated meter on the meter bus whose registers grow during the run) or smoke (smoke, hush,
self-test with a sagging battery, tamper and heartbeat injected through the board's pins).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nbkit import profiles
from nbkit.proto import codes

from host_tools.errors import CommandError
from host_tools.rig import account, stop
from host_tools.rig.rig import BOARD_FOR_MODEM, EPOCH, TRANSPORTS, Rig, RigOptions

#: the device profiles (firmware/nbkit/profiles.py, the one registry)
PROFILES = profiles.names()


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=profiles.DEFAULT,
        help=f"the device to run ({profiles.DEFAULT})",
    )
    parser.add_argument(
        "--hours", type=float, help="device hours to run (24; smoke: 0.5, its events are brief)"
    )
    parser.add_argument(
        "--clock",
        choices=("sim", "real"),
        help="sim (default): one time master for the whole rig, "
        "device time moves only when every process waits, so results do not depend on the "
        "host; real: wall time (the default with --modem-port, a real modem)",
    )
    parser.add_argument("--read-interval", type=int, default=900, help="seconds (900)")
    parser.add_argument("--report-interval", type=int, default=14400, help="seconds (14400)")
    parser.add_argument(
        "--flow-period",
        type=int,
        default=20,
        help="seconds between 1-litre pulses of the water flow (20)",
    )
    parser.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="udp",
        help="how uplinks reach the collector: UDP datagrams (default), TCP, MQTT through a "
        "broker, or CoAP through the operator-platform stand-in",
    )
    parser.add_argument(
        "--modem",
        choices=sorted(BOARD_FOR_MODEM),
        help="emulated module: bc28 (NB-IoT), ec200 (LTE Cat1) or bc660k (BC660K-GL NB-IoT, "
        "udp/tcp); default: bc28 for udp and coap, ec200 for tcp and mqtt",
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE",
        help="fault scenario for the built-in modem emulator (JSON/TOML, see `nbkit emulate "
        "--help`), e.g. a persistent +CME ERROR on every send or a reboot at a command",
    )
    parser.add_argument(
        "--modem-port",
        metavar="PATH",
        help="run the firmware's modem UART on this tty instead of the built-in emulator: a "
        "real BC95/BC28 on a USB-UART, or another emulator (time is then real: --clock real)",
    )
    parser.add_argument(
        "--baud", type=int, metavar="N", help="with --modem-port: the UART speed (board data's)"
    )
    parser.add_argument(
        "--heap",
        type=int,
        metavar="KIB",
        help="the board's MicroPython heap, KiB of a 32-bit MCU (default: the board data's "
        "heap_bytes; 64: the water meter's target, which its day fits down to 60); a wake that "
        "needs more ends in a MemoryError, counted and reset by the firmware's last resort",
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep the run's files here (default: a temporary folder)"
    )
    parser.add_argument("--verbose", action="store_true", help="also print the device console")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def _print_uplink(event: dict[str, Any]) -> None:
    rows = sorted(event["readings"], key=lambda r: r["code"] < 0x40)  # events (alarms) first
    values = " ".join(f"{r['name']}={r['value']}{r['unit']}" for r in rows[:4])
    more = f" (+{len(rows) - 4} more)" if len(rows) > 4 else ""
    hours = (event["virtual_t"] - EPOCH) / 3600
    print(
        f"[{hours:5.1f} h] uplink accepted: device {event['device']} "
        f"seq {event['seq_first']}..{event['seq_last']} ({len(rows)} readings, "
        f"{event['bytes']} B): {values}{more}",
        flush=True,
    )


def _read_t(words: list[str]) -> int:
    """Device time of a console line ``nbkit: read SEQ NAME VALUE t=T`` (0 when it has none)."""
    if len(words) > 5 and words[5].startswith("t="):
        return int(words[5][2:])
    return 0


def summarize(
    rig: Rig, hours: float, stored: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Figures of a finished run, from the console log, the collector's rows (device times)
    and the emulator's timeline; ``failures`` lists what the schedule required and did not
    get (host_tools.rig.account). ``stored``: this device's rows (a fleet cell's collector
    holds many devices); default: every row of the rig's collector."""
    read_lines = [ln.split() for ln in rig.console_lines if ln.startswith("nbkit: read ")]
    # the readings of the run's slots (start, end]: a run that goes on past its end (to the
    # next report, as a fleet cell does) takes more, which are not the schedule's
    last = EPOCH + hours * 3600 + rig.opt.read_interval_s / 2
    read_lines = [w for w in read_lines if _read_t(w) <= last]
    taken = {int(w[2]) for w in read_lines}
    taken_t = [_read_t(w) for w in read_lines if _read_t(w) > 0]
    if stored is None:
        stored = account.rows(rig.path("collector.db"))
    by_seq = {r["seq"]: r for r in stored}
    dropped = max([r["value"] for r in stored if r["name"] == "queue_dropped"] or [0])
    timeline = rig.path("timeline.jsonl")
    states = account.timeline_states(timeline) if timeline.exists() else None
    figures, failures = account.account(
        stored,
        EPOCH,
        EPOCH + hours * 3600,
        rig.opt.read_interval_s,
        dropped,
        taken_t=taken_t,
        states=states,
    )
    if rig.opt.clock != "sim":  # the collector's received column is wall time then
        failures = [f for f in failures if not f.startswith("alarm ")]
        figures["alarms"] = [
            {**a, "delivered_s": None, "delay_s": None, "link_wait_s": None}
            for a in figures["alarms"]
        ]
    out: dict[str, Any] = {
        "device_hours": hours,
        "clock": rig.opt.clock,
        "modem": rig.opt.modem,
        "readings_expected": figures["readings_expected"],
        "readings_taken": len(taken),
        "readings_delivered": len(taken & set(by_seq)),
        "readings_pending_on_device": len(taken - set(by_seq)),
        "readings_lost": figures["readings_lost"],
        "slots_missed": figures["slots_missed"],
        "duplicates_stored": figures["duplicates_stored"],
        "events_delivered": len([r for r in stored if r["code"] >= 0x40]),
        "alarms": figures["alarms"],
        "alarms_pending_on_device": _pending_alarms(rig.console_lines, set(by_seq)),
        "uplinks": len(rig.uplinks),
        "frame_bytes_up": sum(e["bytes"] for e in rig.uplinks),
    }
    out.update(_energy(rig, hours))
    end = EPOCH + hours * 3600
    out["failures"] = failures + _undelivered(
        read_lines, set(by_seq), out["alarms_pending_on_device"], end - rig.opt.report_interval_s
    )
    return out


#: device s a report may take past its slot (the wake, a search, the ack wait, a retry)
_REPORT_GRACE_S = 600


def _undelivered(
    read_lines: list[list[str]], delivered: set[int], alarms: list[dict[str, Any]], due: float
) -> list[str]:
    """What the device still held at the run's end that it should have delivered: readings
    taken a report interval (and a grace) before the end, which a report since should have
    carried, and any urgent alarm (sent at once, they are never left for a later report)."""
    late = [_read_t(w) for w in read_lines if int(w[2]) not in delivered]
    late = [t for t in late if 0 < t <= due - _REPORT_GRACE_S]
    out = []
    if late:
        out.append(
            f"{len(late)} readings taken by {(max(late) - EPOCH) / 3600:.2f} h still on the "
            "device at the run's end: no report delivered them"
        )
    for a in alarms:
        if a["urgent"]:
            out.append(
                f"alarm {a['name']}={a['value']} (seq {a['seq']}) never delivered: still "
                "queued on the device at the run's end"
            )
    return out


#: record names of the meter's and the sensor's events (host_tools.rig.account.ALARM_CODES)
_ALARM_NAMES = frozenset(codes.name(c) for c in account.ALARM_CODES)


def _pending_alarms(lines: list[str], delivered: set[int]) -> list[dict[str, Any]]:
    """Alarms the device raised (``nbkit: event SEQ NAME VALUE [URGENT]`` on its console) that
    no uplink delivered by the run's end: queued for its next report, not lost."""
    out = []
    for line in lines:
        w = line.split()
        if len(w) < 5 or w[:2] != ["nbkit:", "event"] or w[3] not in _ALARM_NAMES:
            continue
        try:
            seq, value = int(w[2]), int(w[4])
        except ValueError:
            continue
        if value and seq not in delivered:
            out.append({"seq": seq, "name": w[3], "value": value, "urgent": w[-1] == "URGENT"})
    return out


def _energy(rig: Rig, hours: float) -> dict[str, Any]:
    """Modem wakes, awake time and charge from the emulator's timeline; the charge per day
    counted from the first PSM entry (after the power-on attach, a one-off) and the energy
    model's figure for the same schedule (host_tools.energy.synth, same reports per day and
    mean frame size)."""
    from host_tools.energy import battery, model, synth

    if rig.opt.modem not in model.profile_names():
        return {"energy": f"no sourced current profile for {rig.opt.modem}"}
    if not rig.path("timeline.jsonl").exists():
        return {"energy": "no modem timeline (the modem is not the built-in emulator)"}
    end = EPOCH + hours * 3600
    profile = model.load_profile(rig.opt.modem)
    timeline = [r for r in model.read_timeline(rig.path("timeline.jsonl")) if r.t <= end]
    whole = model.integrate(timeline, profile, end=end, reports=len(rig.uplinks) or None)
    pairs = zip(timeline, timeline[1:], strict=False)
    # the modem leaving a sleep (PSM, radio off, eDRX between paging windows) for any reason
    wakes = sum(1 for a, b in pairs if a.state in model.ASLEEP and b.state not in model.ASLEEP)
    out: dict[str, Any] = {
        "modem_wakes": wakes,
        "modem_awake_s": round(whole.awake_s, 1),
        "charge_whole_run_mah": round(whole.total_mah, 4),
    }
    first_psm = next((i for i, r in enumerate(timeline) if r.state == "psm"), None)
    if first_psm is None:  # never in PSM (a send that always fails): the whole run it is
        return {
            **out,
            "charge_mah_per_day": round(whole.per_day_mah, 4),
            "model_charge_mah_per_day": None,
        }
    steady = timeline[first_psm:]
    ups = [e for e in rig.uplinks if e["virtual_t"] >= steady[0].t and e["virtual_t"] <= end]
    result = model.integrate(steady, profile, end=end, reports=len(ups) or None)
    per_day = result.per_day_mah
    payload = int(sum(e["bytes"] for e in ups) / len(ups)) if ups else 20
    cfg = synth.Config(
        reports_per_day=max(len(ups), 1) * 86400 / max(result.duration_s, 1.0), payload=payload
    )
    modelled = synth.evaluate(cfg, profile).total_mah * cfg.reports_per_day
    cell = battery.get("ER26500")
    return {
        **out,
        "charge_mah_per_day": round(per_day, 4),
        "model_charge_mah_per_day": round(modelled, 4),
        "charge_vs_model_pct": round((per_day / modelled - 1) * 100, 1),
        "years_on_er26500": round(cell.years(per_day), 1),
    }


#: the water demo holds a magnet at the meter for half an hour: the field sensor wakes the board,
#: the tamper alarm goes at once in its own uplink; the all-clear waits for the next report
WATER_MAGNET = (
    (6.2, "set tamper 0", "a magnet held at the meter (field sensor active)"),
    (6.7, "set tamper 1", "the magnet removed"),
)

#: the module each transport runs over in the demo (the emulator's personas)
MODEM_FOR = {
    "udp": ("bc28", "ec200", "bc660k"),
    "tcp": ("ec200", "bc660k"),
    # bc660k + MQTT + the water app did not fit the virtual board's former 128 KiB heap
    # (MemoryError at the second wake); tests/e2e/test_bc660k.py runs that pair with 256 KiB
    "mqtt": ("ec200",),
    "coap": ("bc28",),
}


def check_args(args: argparse.Namespace) -> None:
    """Refuse impossible values before anything starts (issue 16: no traceback for any input)."""
    from nbkit.store import config

    if args.hours is not None and not 0 < args.hours <= 24 * 366:
        raise CommandError(f"--hours {args.hours:g}: give more than 0 and at most a year (8784)")
    if args.heap is not None and not 16 <= args.heap <= 4096:
        raise CommandError(f"--heap {args.heap}: give KiB, 16 to 4096 (64: the water budget)")
    if args.flow_period <= 0:
        raise CommandError(f"--flow-period {args.flow_period}: give seconds, more than 0")
    for option, name in (
        ("--read-interval", "read_interval_s"),
        ("--report-interval", "report_interval_s"),
    ):
        why = config.FIELDS[name][2](getattr(args, option[2:].replace("-", "_")))
        if why:
            raise CommandError(f"{option}: {why} (seconds, as the device config takes)")
    if args.report_interval < args.read_interval:
        raise CommandError("--report-interval must not be shorter than --read-interval")
    if args.workdir is not None:
        try:
            args.workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(
                f"--workdir {args.workdir}: cannot make it ({exc.strerror or exc}) - give a "
                "writable folder"
            ) from exc
        if not os.access(args.workdir, os.W_OK):
            raise CommandError(f"--workdir {args.workdir}: not writable - give another folder")


def _run_sim(rig: Rig, args: argparse.Namespace, magnet: list[Any], end: float) -> None:
    """The demo's script on the rig's time master: each action at its exact device time."""
    from host_tools.rig.profiles import grow_meter

    actions: list[tuple[float, Any]] = []
    for at, command, what in magnet:
        actions.append((EPOCH + at * 3600, (command, what, at)))
    if args.profile != "water":  # the meter's registers follow device time, every 5 min
        actions += [(t, None) for t in range(int(EPOCH), int(end), 300)]
    for t, action in sorted(actions, key=lambda a: a[0]):
        if t >= end:
            break
        rig.run_until(t)
        if action is None:
            grow_meter(rig, args.flow_period)
            continue
        command, what, at = action
        rig.control(command)
        if not args.json:
            print(f"[{at:5.1f} h] demo: {what}", flush=True)
    rig.run_until(end)


def _check_ports(args: argparse.Namespace) -> None:
    """--scenario / --modem-port / --baud: checked before anything starts."""
    if args.scenario is not None:
        if args.modem_port:
            raise CommandError("--scenario is for the built-in emulator, not --modem-port")
        from host_tools.emulator.scenario import load

        load(args.scenario)  # a bad file is a clear error now, not a dead emulator later
    if args.baud is not None and not args.modem_port:
        raise CommandError("--baud goes with --modem-port (the emulator's pty has no speed)")
    if args.modem_port and not os.path.exists(args.modem_port):
        raise CommandError(f"--modem-port {args.modem_port}: no such device")


def run(args: argparse.Namespace) -> int:
    check_args(args)
    args.modem = args.modem or MODEM_FOR[args.transport][0]
    if args.modem not in MODEM_FOR[args.transport]:
        raise CommandError(
            f"--transport {args.transport} runs over --modem "
            f"{' or '.join(MODEM_FOR[args.transport])} (the emulated {args.modem.upper()} "
            f"has no such AT commands)"
        )
    smoke = args.profile == "smoke"
    _check_ports(args)
    if args.clock is None:
        args.clock = "real" if args.modem_port else "sim"
    if args.modem_port and args.clock == "sim":
        raise CommandError("--modem-port: a real modem runs in real time; use --clock real")
    if args.hours is None:
        args.hours = 0.5 if smoke else 24.0
    if smoke:
        from host_tools.rig.profiles import run_smoke

        return run_smoke(args)
    stop.install()
    with tempfile.TemporaryDirectory(prefix="nbkit-demo-") as tmp:
        workdir = args.workdir or Path(tmp)
        opts = RigOptions(
            clock=args.clock,
            modem_port=args.modem_port,
            modem_baud=args.baud,
            emulator_args=["--scenario", str(args.scenario.resolve())] if args.scenario else [],
            read_interval_s=args.read_interval,
            report_interval_s=args.report_interval,
            modem=args.modem,
            transport=args.transport,
            profile=args.profile,
            vboard_args=["--heap", f"{args.heap * 1024}w"] if args.heap else [],
        )
        rig = Rig(workdir, opts)
        if not args.json:
            rig.on_uplink = _print_uplink
            print(
                f"nbkit demo: a {args.profile} meter (device {opts.device_id}, "
                f"{args.modem.upper()} over {args.transport.upper()}) for "
                f"{args.hours:g} device hours, reading every {args.read_interval // 60} min, "
                f"reporting every {args.report_interval / 3600:g} h; "
                + ("simulated time" if args.clock == "sim" else "real time"),
                flush=True,
            )
        if args.verbose:
            rig.on_console = lambda line: print(f"  | {line}", flush=True)
        try:
            rig.start()
            if args.profile == "water":
                pulses = int(args.hours * 3600 // args.flow_period) + 100
                rig.control(f"pulse pulse_a {pulses} {args.flow_period * 1000}")
            # and the report due at the end: 10 device minutes; on a real modem in real time,
            # the 90 s a report's wake takes there (attach aside)
            end = EPOCH + args.hours * 3600 + (90 if args.clock == "real" else 600)
            magnet = list(WATER_MAGNET) if args.profile == "water" else []
            if args.clock == "sim":
                _run_sim(rig, args, magnet, end)
            while rig.virtual_now() < end:
                rig.check_alive()
                time.sleep(0.2)
                if magnet and rig.virtual_now() >= EPOCH + magnet[0][0] * 3600:
                    at, command, what = magnet.pop(0)
                    rig.control(command)
                    if not args.json:
                        print(f"[{at:5.1f} h] demo: {what}", flush=True)
                if args.profile != "water":
                    from host_tools.rig.profiles import grow_meter

                    grow_meter(rig, args.flow_period)
            if stop.requested():  # the interrupt landed where Python drops it
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            print("nbkit demo: interrupted, stopping every process", file=sys.stderr)
            rig.stop()
            return 130
        finally:
            codes = rig.stop()
        if any(codes.values()):
            raise CommandError(f"a process exited badly: {codes}; files in {workdir}")
        summary = summarize(rig, args.hours)
    return report(summary, args.json)


def report(summary: dict[str, Any], as_json: bool) -> int:
    """Print the summary (one JSON object with --json), then fail loudly: one line per thing
    the schedule required and did not get, exit 1."""
    failures = list(summary["failures"])
    if not summary["uplinks"]:
        failures.append("no uplink reached the collector")
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print("\nsummary")
        for key, value in summary.items():
            if key in ("failures", "alarms", "alarms_pending_on_device"):
                continue
            print(f"  {key.replace('_', ' '):<28} {value}")
        for a in summary["alarms"]:
            when = (
                f"delivered {a['delay_s']:.1f} s later"
                if a["delay_s"] is not None  # None: the collector stamped it in wall time
                else "delivered (its device delay is not known off the time master)"
            )
            if a["link_wait_s"]:
                when += f" (the link was down: up {a['link_wait_s']:.1f} s after the raise)"
            print(
                f"  alarm {a['name']}={a['value']:<3} raised {a['raised_s'] / 3600:6.2f} h, {when}"
            )
        for a in summary.get("alarms_pending_on_device", []):
            urgent = "urgent, " if a["urgent"] else ""
            print(
                f"  alarm {a['name']}={a['value']:<3} (seq {a['seq']}) {urgent}queued on the "
                "device at the run's end: it goes with the next report"
            )
    if failures:
        for line in failures:
            print(f"nbkit demo: FAILED: {line}", file=sys.stderr)
        raise CommandError(f"the demo did not deliver what it should ({len(failures)} failures)")
    return 0
