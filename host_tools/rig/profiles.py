"""The non-water demo profiles of `nbkit demo` (see host_tools/rig/demo.py).

* gas-cjt188 / electricity-dlt645 / heat-mbus: the emulated meter's registers grow with device
  time, so the readings the firmware takes over the meter bus move like a real meter's.
* smoke: a scripted half hour of a smoke alarm's life, injected through the board's pins on the
  control channel (chamber ADC, button, tamper, battery ADC); each event is printed as the
  collector accepts it, with how long after its injection it arrived (device seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nbkit import profiles

from host_tools.errors import CommandError
from host_tools.rig import stop
from host_tools.rig.rig import EPOCH, Rig, RigOptions

_GAS_BASE = 123456  # 1234.56 m3, the emulator's register unit (0.01 m3)
_ENERGY_BASE = 1234567  # 12345.67 kWh (0.01 kWh)
_POWER_W = 600  # the household's mean load in the electricity demo
_HEAT_BASE_WH = 12_345_600  # the heat-mbus demo's meter: 12345.6 kWh, 456.789 m3 at the start
_HEAT_BASE_L = 456_789
_HEAT_W = 3000  # the flat's mean heating load
_HEAT_FLOW_LPH = 130  # its circulation flow


def grow_meter(rig: Rig, flow_period_s: int) -> None:
    """Set the meter emulator's registers from the device time elapsed since the start."""
    elapsed = max(0.0, rig.virtual_now() - EPOCH)
    medium = profiles.get(rig.opt.profile)[3]  # what the profile's meter measures
    if medium == "gas":
        litres = elapsed / flow_period_s
        rig.meter({"set": {"total": _GAS_BASE + int(litres / 10)}})
    elif medium == "electricity":
        wh = elapsed / 3600 * _POWER_W
        rig.meter({"set": {"forward": _ENERGY_BASE + int(wh / 10)}})
    elif rig.opt.profile == "heat-mbus":
        hours = elapsed / 3600
        rig.meter({"set": {"energy": _HEAT_BASE_WH + int(hours * _HEAT_W), "power": _HEAT_W}})
        rig.meter({"set": {"volume": _HEAT_BASE_L + int(hours * _HEAT_FLOW_LPH)}})


#: (device minutes after power-up, what, control command(s)) of the smoke demo
SMOKE_SCRIPT: list[tuple[float, str, list[str]]] = [
    (3, "smoke enters the chamber", ["set smoke_adc 42000"]),
    (5, "button pressed: hush", ["set button 0", "set button 1"]),
    (8, "smoke clears", ["set smoke_adc 8000"]),
    (
        12,
        "battery sags; button pressed: self-test",
        ["set battery_adc 2500", "set button 0", "set button 1"],
    ),
    (16, "detector taken off its base", ["set tamper 1"]),
    (18, "detector put back", ["set tamper 0"]),
]
#: the events the smoke demo must deliver
SMOKE_EVENTS = (
    "boot",
    "smoke_alarm",
    "smoke_hush",
    "smoke_clear",
    "low_battery",
    "smoke_selftest",
    "removed",
    "heartbeat",
)


def _print_events(event: dict[str, Any], injected: dict[str, float]) -> None:
    """Each event as the collector accepted it (its `received` device time), and how long
    after the injection that caused it (the latest, less than a minute before) that was."""
    t = event["virtual_t"]
    minutes = (t - EPOCH) / 60
    latest = max([at for at in injected.values() if at <= t], default=None)
    caused = latest is not None and t - latest < 60
    after = f" (arrived {t - latest:.1f} s after injection)" if caused else ""
    for r in event["readings"]:
        unit = f" {r['unit']}" if r["unit"] else ""
        print(f"[{minutes:5.1f} min] event: {r['name']} = {r['value']}{unit}{after}", flush=True)


def run_smoke(args: argparse.Namespace) -> int:
    """The smoke profile demo: inject the script, print events, check they all arrived."""
    stop.install()
    heartbeat_s = max(60, int(args.hours * 3600 * 0.8))
    with tempfile.TemporaryDirectory(prefix="nbkit-demo-") as tmp:
        workdir = args.workdir or Path(tmp)
        opts = RigOptions(
            clock=args.clock,
            modem=args.modem,
            profile="smoke",
            heartbeat_s=heartbeat_s,
        )
        rig = Rig(workdir, opts)
        injected: dict[str, float] = {}
        if not args.json:
            rig.on_uplink = lambda event: _print_events(event, injected)
            print(
                f"nbkit demo: a smoke alarm (device {rig.opt.device_id}, "
                f"{args.modem.upper()}) for {args.hours * 60:g} device minutes, heartbeat "
                f"every {heartbeat_s // 60} min; "
                + ("simulated time" if args.clock == "sim" else "real time"),
                flush=True,
            )
        if args.verbose:
            rig.on_console = lambda line: print(f"  | {line}", flush=True)
        try:
            rig.start()
            play_smoke(rig, args, injected)
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
        summary = smoke_summary(rig, injected)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print("\nsummary")
        for key, value in summary.items():
            print(f"  {key.replace('_', ' '):<28} {value}")
    if summary["missing_events"]:
        raise CommandError(f"events that never arrived: {summary['missing_events']}")
    return 0


def _inject(rig: Rig, args: argparse.Namespace, injected: dict[str, float], step: Any) -> None:
    _, what, commands = step
    injected[what] = rig.virtual_now()
    if not args.json:
        at = (rig.virtual_now() - EPOCH) / 60
        print(f"[{at:5.1f} min] >>> {what}", flush=True)
    for command in commands:
        rig.control(command)


def play_smoke(rig: Rig, args: argparse.Namespace, injected: dict[str, float]) -> None:
    """Inject SMOKE_SCRIPT (args.hours long; args.json: quiet), recording when in `injected`."""
    end = EPOCH + args.hours * 3600
    if rig.sim is not None:  # the rig's time master: each injection at its exact device time
        for step in SMOKE_SCRIPT:
            if EPOCH + step[0] * 60 >= end:
                break
            rig.run_until(EPOCH + step[0] * 60)
            _inject(rig, args, injected, step)
        rig.run_until(end)
        return
    script = list(SMOKE_SCRIPT)
    while rig.virtual_now() < end:
        rig.check_alive()
        if script and rig.virtual_now() >= EPOCH + script[0][0] * 60:
            _inject(rig, args, injected, script.pop(0))
        time.sleep(0.05)


def smoke_summary(rig: Rig, injected: dict[str, float]) -> dict[str, Any]:
    """Which events arrived, and the alarm's latency from the smoke injection (device s)."""
    arrived: dict[str, float] = {}
    for e in rig.uplinks:
        for r in e["readings"]:
            arrived.setdefault(r["name"], e["virtual_t"])
    smoke_at = injected.get("smoke enters the chamber")
    latency = (
        round(arrived["smoke_alarm"] - smoke_at, 1)
        if smoke_at is not None and "smoke_alarm" in arrived
        else None
    )
    return {
        "uplinks": len(rig.uplinks),
        "events_delivered": sum(len(e["readings"]) for e in rig.uplinks),
        "alarm_latency_s": latency,
        "missing_events": [n for n in SMOKE_EVENTS if n not in arrived],
    }
