"""Bench figures of issue 18: validation against published figures, the firmware's distance
from the protocol floor, and the reporting strategies side by side (suite ``power``)."""

from __future__ import annotations

from typing import Any

from host_tools.energy import floor, floor_app, floor_links, synth, validation
from host_tools.energy.model import load_profile
from host_tools.errors import CommandError

#: the two profiles compared: (name, reports/day, payload bytes, why)
PROFILES = (
    ("water", 24.0, 39, "hourly report of 4 readings (39 B frame, bench-payload)"),
    ("smoke", 1.0, 21, "daily heartbeat (21 B frame); alarms bypass the schedule"),
)
STRATEGIES: tuple[tuple[str, str, str], ...] = (
    ("PSM+RAI", "psm-rai", "idle"),
    ("PSM without RAI", "psm", "idle"),
    ("eDRX", "no-psm", "edrx"),
    ("power-off + re-attach", "off-attach", "idle"),
)
#: eDRX cycle behind the profile's eDRX current (bc95.json edrx: PTW 10.24 s / cycle 81.92 s)
EDRX_CYCLE_S = 81.92


def run_validation(report: Any) -> None:
    rows = validation.evaluate()
    for row in rows:
        report.figure(row.name, round(row.ratio, 3), "ratio", note=row.note)
    if not report.quiet:
        print(f"\n  {'source: quantity':<74} {'published':>10} {'model':>10} {'ratio':>6}")
        for row in rows:
            c = row.case
            mark = "ok" if row.within else "outside"
            print(
                f"  {c.source + ': ' + c.quantity:<74} {c.published:>10.4g} {row.model:>10.4g} "
                f"{row.ratio:>6.2f} {mark} {c.unit}"
            )
        print()


def _latency(mode: str, interval_s: float) -> str:
    if mode == "no-psm":
        return f"downlink reaches it within one eDRX cycle ({EDRX_CYCLE_S:g} s)"
    if mode == "off-attach":
        return f"unreachable until the next report ({interval_s / 3600:g} h)"
    return f"reachable only in T3324 after an uplink; else wait up to {interval_s / 3600:g} h"


def run_strategies(report: Any) -> None:
    profile = load_profile("bc95")
    for name, rate, payload, why in PROFILES:
        for ce in (0, 1, 2):
            per_day = {}
            for label, mode, idle in STRATEGIES:
                cfg = synth.Config(
                    reports_per_day=rate,
                    payload=payload,
                    ce=ce,
                    mode=mode,
                    idle_state=idle,
                    expect_reply=True,
                )
                per_day[label] = synth.evaluate(cfg, profile).total_mah * rate
            base = per_day["PSM+RAI"]
            for label, mode, _ in STRATEGIES:
                report.figure(
                    f"strategy: {name} CE{ce} {label}",
                    round(per_day[label] / base, 3),
                    "ratio",
                    note=f"{per_day[label]:.3f} mAh/day vs PSM+RAI {base:.3f} ({why}); "
                    + _latency(mode, 86400.0 / rate),
                )
    report.figure(
        "strategy chosen by the firmware: water",
        "PSM+RAI",
        note="NSOSTF 0x400 on the last frame, no re-attach after a PSM wake; CFUN=0 only "
        "when the network denies PSM (power.after_report)",
    )
    report.figure(
        "strategy chosen by the firmware: smoke",
        "PSM+RAI",
        note="alarms are uplinks (the MCU wakes the modem at once), so eDRX's downlink "
        "reachability buys nothing for them; downlink commands wait for the T3324 window after "
        "the next heartbeat or alarm. eDRX is for a sensor that must obey commands within a cycle",
    )


#: the CoAP / Cat1 paths: every profile reports through the same link.send(frame, last,
#: expect_reply=True), so one report path per transport (the profile changes the payload only)
ALL_PROFILES = "all-profiles"


def run_floor(report: Any) -> None:
    bc28 = load_profile("bc28")
    for name in floor_app.PROFILES:
        for ce in (0, 1, 2):
            label = f"floor: {name} udp CE{ce}"
            try:
                app = floor_app.measure(name, ce, bc28)
            except (OSError, RuntimeError, CommandError) as exc:
                report.figure(label, "n/a", note=str(exc).splitlines()[0])
                continue
            report.figure(
                label,
                round(app.ratio, 4),
                "ratio",
                note=f"the application on the virtual rig, worst of {app.reports} reports after "
                f"a PSM wake: air {' '.join(app.air)}; firmware / minimum from modelled states "
                f"(the recorded connected time was {app.host_s:.1f} s longer, not counted)",
            )
    for ce in (0, 1, 2):
        label = f"recorded floor: udp report wake CE{ce}"
        try:
            res = floor.measure(bc28, ce)
        except (OSError, RuntimeError) as exc:
            report.figure(label, "n/a", note=str(exc).splitlines()[0])
            continue
        report.figure(
            label,
            round(res.recorded_ratio, 4),
            "ratio",
            note=f"recorded timeline / protocol minimum for tests/e2e/power_wake.py in the time "
            f"master's device time (no host latency in it): above 1 by the {res.awake_s:.3f} s "
            f"UART wake before the RRC setup (local commands, not in the minimum); connected "
            f"{res.beyond_s:.3f} s beyond the model; by modelled states {res.ratio:.3f}",
        )
    for transport, (modem, minimum) in floor_links.TRANSPORTS.items():
        for ce in (0, 1, 2):
            label = f"floor: {ALL_PROFILES} {transport} CE{ce}"
            try:
                got = floor_links.measure(transport, ce, load_profile(modem))
            except (OSError, RuntimeError) as exc:
                report.figure(label, "n/a", note=str(exc).splitlines()[0])
                continue
            report.figure(
                label,
                round(got.ratio, 4),
                "ratio",
                note=f"{modem}: air {' '.join(got.air)} vs minimum {' '.join(minimum)}; "
                f"firmware {got.firmware_mah:.4f} mAh vs minimum {got.minimum_mah:.4f} "
                "(modelled states, no host latency)",
            )
