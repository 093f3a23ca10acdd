"""`nbkit energy`: charge per report and per day, and battery life, by the energy model.

Either for a configuration on the synthetic timing model::

    nbkit energy --reports-per-day 24 --payload 50 --ce 0 --mode a --battery ER26500

or for a state timeline recorded by the emulator (JSON Lines ``{"t","state","ce"}``)::

    nbkit energy --timeline modem-states.jsonl --battery ER34615

or for the whole device on a board (modem + MCU + meter front-end + the cell's own losses)::

    nbkit energy --board esp32_bc28 --battery ER34615 --schedule 24/day,ce=1,reads=24,temp=-10

``--plot DIR`` writes cycle-current.png and battery-life.png (charge-<board>.png with --board);
``--profile`` prints every current with its source. Profiles, battery presets and cell data are
editable JSON in host_tools/energy/profiles/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from host_tools.energy import battery as batteries
from host_tools.energy import model, synth, timing
from host_tools.errors import CommandError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Estimate mAh per report and per day, and battery life in years, for a reporting "
        "configuration on the emulator's timing model, or for a recorded modem state timeline."
    )
    parser.epilog = (
        "modes: a = psm-rai (PSM + release assistance, no re-attach), b = psm (PSM, waits out "
        "the RRC inactivity timer), c = no-psm (idle DRX/eDRX), d = off-attach (power off and "
        "re-attach per report). Timing parameters: "
        + ", ".join(_timing_fields())
        + ". Whole device, e.g.: nbkit energy --board esp32_bc28 --battery ER34615 "
        "--schedule 24/day,ce=1,reads=24,temp=-10 --plot out/"
    )
    parser.add_argument(
        "--model", default="bc95", help=f"modem profile: {', '.join(model.profile_names())}"
    )
    parser.add_argument("--profile-file", type=Path, help="use this profile JSON instead")
    parser.add_argument(
        "--battery",
        default="ER26500",
        help=f"battery preset: {', '.join(batteries.presets())} (default ER26500)",
    )
    parser.add_argument("--reports-per-day", type=float, default=24.0, help="default 24")
    parser.add_argument("--payload", type=int, default=50, help="application bytes (default 50)")
    parser.add_argument("--ce", type=int, choices=(0, 1, 2), default=0, help="coverage level")
    parser.add_argument("--mode", default="a", help="a|b|c|d or psm-rai|psm|no-psm|off-attach")
    parser.add_argument(
        "--reply", action="store_true", help="each report waits for an ack (NSOSTF 0x400)"
    )
    parser.add_argument("--edrx", action="store_true", help="mode c idles in eDRX instead of DRX")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a timing parameter, e.g. --set rrc_inactivity_s=10 "
        "or --set attach_s=20,40,60 (per CE)",
    )
    parser.add_argument("--timeline", type=Path, help="integrate this JSON Lines state timeline")
    parser.add_argument("--until", type=float, help="with --timeline: end time of the last state")
    parser.add_argument(
        "--reports", type=int, help="with --timeline: number of reports (default: tx entries)"
    )
    parser.add_argument("--plot", type=Path, metavar="DIR", help="write PNG plots into DIR")
    parser.add_argument(
        "--profile", action="store_true", help="print every current with its source"
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    whole = parser.add_argument_group("whole device (modem + MCU + meter front-end + battery)")
    whole.add_argument("--board", help="board from boards/: its MCU and front-end currents")
    whole.add_argument(
        "--schedule",
        default="",
        help="reports per day and more, e.g. 24/day, 1h, daily or "
        "'reports=24,payload=50,ce=1,reads=96,wakes=96,temp=-10,mode=a' (with --board)",
    )


def _timing_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(synth.Timing)]


def _timing(overrides: list[str]) -> synth.Timing:
    timing = synth.Timing()
    changes: dict[str, Any] = {}
    for item in overrides:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in _timing_fields():
            raise CommandError(
                f"--set {item!r}: expected NAME=VALUE, NAME one of {', '.join(_timing_fields())}"
            )
        current = getattr(timing, name)
        try:
            if isinstance(current, tuple):
                parts = tuple(float(v) for v in value.split(","))
                if len(parts) == 1:
                    parts = parts * 3
                if len(parts) != 3:
                    raise ValueError("give one value or three (CE0,CE1,CE2)")
                changes[name] = parts
            else:
                changes[name] = float(value)
        except ValueError as exc:
            raise CommandError(f"--set {item!r}: {exc}") from exc
        if any(v < 0 for v in (changes[name] if isinstance(current, tuple) else [changes[name]])):
            raise CommandError(f"--set {item!r}: durations cannot be negative")
    return dataclasses.replace(timing, **changes)


def _load_profile(args: argparse.Namespace) -> model.Profile:
    return model.load_profile(args.profile_file or args.model)


def _profile_rows(profile: model.Profile) -> list[dict[str, Any]]:
    return [{"item": name, "ma": f.ma, "source": f.source} for name, f in profile.figures()]


def _config(args: argparse.Namespace) -> synth.Config:
    return synth.Config(
        reports_per_day=args.reports_per_day,
        payload=args.payload,
        ce=args.ce,
        mode=synth.mode_name(args.mode),
        expect_reply=args.reply,
        idle_state="edrx" if args.edrx else "idle",
        timing=_timing(args.set),
    )


def _by_state(result: model.Result, scale: float) -> dict[str, dict[str, float]]:
    return {
        s: {"seconds": c.seconds * scale, "mah": c.mah * scale}
        for s, c in result.by_state.items()
        if c.seconds > 0
    }


def _estimate(args: argparse.Namespace, profile: model.Profile, cell: Any) -> dict[str, Any]:
    cfg = _config(args)
    per_cycle = synth.evaluate(cfg, profile)
    report = synth.report_charge(cfg, profile)
    per_day = per_cycle.total_mah * cfg.reports_per_day
    return {
        "source": "model",
        "model": profile.model,
        "mode": cfg.mode,
        "mode_title": synth.MODE_TITLES[cfg.mode],
        "reports_per_day": cfg.reports_per_day,
        "payload_bytes": cfg.payload,
        "ce": cfg.ce,
        "expect_reply": cfg.expect_reply,
        "report_mah": report.total_mah,
        "report_awake_s": report.duration_s,
        "cycle_mah": per_cycle.total_mah,
        "per_day_mah": per_day,
        "battery": cell.name,
        "years": cell.years(per_day),
        "per_day_by_state": _by_state(per_cycle, cfg.reports_per_day),
        "timing": cfg.timing.to_dict(),
    }


def _from_timeline(args: argparse.Namespace, profile: model.Profile, cell: Any) -> dict[str, Any]:
    records = model.read_timeline(args.timeline)
    result = model.integrate(records, profile, end=args.until, reports=args.reports)
    return {
        "source": str(args.timeline),
        "model": profile.model,
        "records": len(records),
        **result.to_dict(),
        "battery": cell.name,
        "years": cell.years(result.per_day_mah) if result.duration_s > 0 else None,
    }


def _print_text(out: dict[str, Any], cell: Any) -> None:
    battery_text = (
        f"{cell.name} ({cell.capacity_mah:g} mAh, derated {cell.derating:.0%}, "
        f"self-discharge {cell.self_discharge_pct_per_year:g} %/year)"
    )
    if out["source"] == "model":
        print(
            f"{out['model']}: {out['mode_title']}, {out['reports_per_day']:g} reports/day, "
            f"{out['payload_bytes']} B, CE{out['ce']}"
            + (", ack expected" if out["expect_reply"] else "")
        )
        print(
            f"  one report:  {out['report_mah']:.4f} mAh, "
            f"modem awake {out['report_awake_s']:.1f} s"
        )
        print(f"  per day:     {out['per_day_mah']:.3f} mAh")
        states = out["per_day_by_state"]
    else:
        print(
            f"{out['model']}: timeline {out['source']}: {out['records']} records, "
            f"{out['duration_s']:.0f} s, {out['reports']} reports, "
            f"{out['wakes']} UART wakes from sleep"
        )
        print(f"  total:       {out['total_mah']:.4f} mAh")
        if out["per_report_mah"] is not None:
            print(
                f"  per report:  {out['per_report_mah']:.4f} mAh, "
                f"modem awake {out['awake_per_report_s']:.1f} s"
            )
        print(f"  per day:     {out['per_day_mah']:.3f} mAh")
        states = out["by_state"]
    for state, row in states.items():
        if not row["seconds"]:
            continue
        print(f"    {state:<10} {row['seconds']:>10.1f} s {row['mah']:>10.4f} mAh")
    years = out["years"]
    shown = "n/a (empty timeline)" if years is None else f"{years:.1f} years"
    print(f"  battery:     {shown} on {battery_text}")


def _plots(args: argparse.Namespace, profile: model.Profile, cell: Any) -> list[Path]:
    from host_tools.energy import plots

    if args.timeline:
        args.plot.mkdir(parents=True, exist_ok=True)
        records = model.read_timeline(args.timeline)
        path = args.plot / "timeline-current.png"
        modem = model.timeline_model(args.timeline)
        return [
            plots.plot_timeline(
                records, args.until, profile, path, args.timeline.name, modem=modem
            )
        ]
    return plots.write_plots(_config(args), profile, cell, args.plot)


def _whole_device(args: argparse.Namespace) -> int:
    from host_tools.energy import device

    base = device.Schedule(
        reports_per_day=args.reports_per_day,
        payload=args.payload,
        ce=args.ce,
        mode=synth.mode_name(args.mode),
        expect_reply=True,
    )
    est = device.estimate(args.board, args.battery, device.parse_schedule(args.schedule, base))
    out = est.to_dict()
    if args.plot:
        from host_tools.energy import device_plots

        path = args.plot / f"charge-{args.board}.png"
        out["plots"] = [str(device_plots.plot_breakdown(est, path))]
    if args.json:
        json.dump(out, sys.stdout, indent=2, default=str)
        print()
        return 0
    s = est.schedule
    print(
        f"{est.board} on {est.battery}: {s.reports_per_day:g} reports/day, {s.payload} B, "
        f"CE{s.ce}, {synth.MODE_TITLES[synth.mode_name(s.mode)]}, "
        f"{s.meter_reads_per_day:g} meter reads/day, {s.temp_c:g} C"
    )
    print(f"  years:          {est.years:.1f}")
    print(f"  load:           {est.load_mah_per_day:.3f} mAh/day")
    for name, mah in est.per_day.items():
        print(f"    {name:<14} {mah:>8.3f} mAh/day  {100 * est.shares()[name]:5.1f} %")
    print(
        f"    self-discharge {est.self_discharge_mah_per_year / 365.25:>8.3f} mAh/day  "
        f"{100 * est.shares()['self-discharge']:5.1f} %"
    )
    print(f"  usable:         {est.usable_mah:.0f} mAh at {s.temp_c:g} C")
    if est.pulse is not None:
        print(f"  pulse:          {est.pulse.text()}")
    for note in est.notes:
        print(f"  note:           {note}")
    for path in out.get("plots", []):
        print(f"  plot:           {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.board:
        try:
            return _whole_device(args)
        except model.EnergyError as exc:
            raise CommandError(str(exc)) from exc
    try:
        profile = _load_profile(args)
        cell = batteries.get(args.battery)
        if args.profile:
            rows = _profile_rows(profile)
            if args.json:
                json.dump(rows, sys.stdout, indent=2)
                print()
            else:
                for row in rows:
                    print(f"{row['item']:<14} {row['ma']:>9g} mA  {row['source']}")
                print("timing (host_tools/energy/timing.py, shared with nbkit emulate):")
                for name, value in timing.DEFAULT.to_dict().items():
                    shown = (
                        "/".join(f"{v:g}" for v in value) if isinstance(value, tuple) else value
                    )
                    print(f"  {name:<17} {shown:>14} s  {timing.SOURCES[name]}")
            return 0
        out = (
            _from_timeline(args, profile, cell)
            if args.timeline
            else _estimate(args, profile, cell)
        )
        if args.plot:
            out["plots"] = [str(p) for p in _plots(args, profile, cell)]
    except model.EnergyError as exc:
        raise CommandError(str(exc)) from exc
    if args.json:
        json.dump(out, sys.stdout, indent=2)
        print()
    else:
        _print_text(out, cell)
        for path in out.get("plots", []):
            print(f"  plot:        {path}")
    return 0
