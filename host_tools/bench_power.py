"""Bench suite `power`: the four reporting strategies compared on the energy/timing model.

(a) PSM + RAI without re-attach, (b) PSM without RAI, (c) no PSM (idle DRX), (d) power off and
re-attach per report: modem awake seconds and charge per report, years on ER26500 at 1, 24 and 96
reports/day, the ratios of (a) to each, whether the issue's targets are met, and the AT commands on
the air path of a report after a wake from PSM (from the firmware's own report plan).
Model figures, not measurements: see host_tools/energy/profiles/bc95.json for every source.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from nbkit.app import power  # type: ignore[import-not-found,unused-ignore]

from host_tools.energy import battery, model, synth

RATES = (1, 24, 96)
PAYLOAD = 50
CE = 0
BATTERY = "ER26500"
_LETTER = {"psm-rai": "a", "psm": "b", "no-psm": "c", "off-attach": "d"}


def compare(profile: model.Profile, ce: int = CE, reply: bool = False) -> dict[str, Any]:
    """Per mode: report charge/awake time and mAh/day + years at each rate in :data:`RATES`."""
    cell = battery.get(BATTERY)
    out: dict[str, Any] = {}
    for mode in synth.MODES:
        cfg = synth.Config(payload=PAYLOAD, ce=ce, mode=mode, expect_reply=reply)
        report = synth.report_charge(cfg, profile)
        per_rate = {}
        for rate in RATES:
            day = synth.evaluate(dataclasses.replace(cfg, reports_per_day=rate), profile)
            mah_day = day.total_mah * rate
            per_rate[rate] = {"mah_per_day": mah_day, "years": cell.years(mah_day)}
        out[mode] = {"report_mah": report.total_mah, "awake_s": report.duration_s, **per_rate}
    return out


def run(report: Any) -> None:
    report.heading("power", f"Power: reporting strategies on the timing model (bc95, CE{CE})")
    profile = model.load_profile("bc95")
    table = compare(profile)
    a = table["psm-rai"]
    for mode in synth.MODES:
        row, tag = table[mode], f"({_LETTER[mode]}) {mode}"
        idle_note = "then idle DRX all the time" if mode == "no-psm" else ""
        report.figure(f"{tag}: modem awake per report", row["awake_s"], "s", note=idle_note)
        report.figure(f"{tag}: charge per report", row["report_mah"], "mAh")
        for rate in RATES:
            report.figure(f"{tag}: years on {BATTERY} at {rate}/day", row[rate]["years"], "years")
        if mode != "psm-rai":
            report.figure(
                f"(a)/({_LETTER[mode]}) charge per report",
                a["report_mah"] / row["report_mah"],
                "",
                note=f"1/{row['report_mah'] / a['report_mah']:.1f}",
            )
            report.figure(
                f"(a)/({_LETTER[mode]}) charge per day at 24/day",
                a[24]["mah_per_day"] / row[24]["mah_per_day"],
                "",
                note=f"1/{row[24]['mah_per_day'] / a[24]['mah_per_day']:.1f}",
            )
    with_ack = compare(profile, reply=True)["psm-rai"]
    report.figure("(a) with an ack (0x400): charge per report", with_ack["report_mah"], "mAh")
    report.figure(f"(a) with an ack: years at 24/day on {BATTERY}", with_ack[24]["years"], "years")
    _targets(report, table)
    _air_path(report)


def _met(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def _targets(report: Any, table: dict[str, Any]) -> None:
    a, b, d = table["psm-rai"], table["psm"], table["off-attach"]
    ratio_b = b["report_mah"] / a["report_mah"]
    ratio_d = d["report_mah"] / a["report_mah"]
    years = a[24]["years"]
    report.figure(
        "target (a) <= 1/5 of (b) per report", _met(ratio_b >= 5), note=f"1/{ratio_b:.1f}"
    )
    report.figure(
        "target (a) <= 1/20 of (d) per report", _met(ratio_d >= 20), note=f"1/{ratio_d:.1f}"
    )
    report.figure(
        f"target >= 15 years at 24/day on {BATTERY}, CE0", _met(years >= 15), note=f"{years:.1f} y"
    )
    # what the model would need for the targets it misses (sensitivity, for the lead)
    cell = battery.get(BATTERY)
    floor_day = a[24]["mah_per_day"] - 24 * a["report_mah"]
    budget = cell.usable_mah / 15 - cell.self_discharge_mah_per_year
    needed = (budget / battery.DAYS_PER_YEAR - floor_day) / 24
    report.figure("charge per report (a) needed for 15 years", needed, "mAh")
    report.figure("charge per report (d) needed for the 1/20", 20 * a["report_mah"], "mAh")
    profile = model.load_profile("bc95")
    one = synth.report_charge(synth.Config(payload=PAYLOAD, ce=CE), profile)
    connected = one.by_state["connected"]
    report.figure(
        "(a) share of the report charge in RRC connected",
        connected.mah / one.total_mah,
        "",
        note=f"{connected.seconds:.1f} s at the 54 mA RX figure",
    )


def _air_path(report: Any) -> None:
    for reply in (False, True):
        plan = power.report_plan(power.SEND, socket_open=True, expect_reply=reply)
        report.figure(
            "AT commands on the air after a PSM wake" + (" (ack)" if reply else ""),
            power.air_commands(plan),
            "",
            note=" ".join(cmd.split("=")[0] + ("*" if air else "") for cmd, air in plan)
            + "  (* = over the air)",
        )
    plan = power.report_plan(power.ATTACH)
    report.figure("AT commands on the air when registration was lost", power.air_commands(plan))
