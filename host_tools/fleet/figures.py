"""The fleet's figures merged from its cells' results, and the lines that name what failed.

Collector figures are for the fleet as one collector would see it: the cells' uplinks per
device second are added up (every cell starts at the same device time), so the peak is the
peak one collector serving every meter would ingest.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

#: every meter powers on at the start of the run (its boot uplink within the first minute);
#: the reports' peak is the one from this many device seconds on
POWER_ON_S = 600

#: per-meter figures that add up over the fleet
SUMMED = (
    "readings_expected",
    "readings_taken",
    "readings_delivered",
    "readings_pending_on_device",
    "readings_lost",
    "slots_missed",
    "duplicates_stored",
    "events_delivered",
    "uplinks",
    "frame_bytes_up",
    "rows_stored",
)


def merge(results: list[dict[str, Any]], wall_s: float, cpu_s: float, rss_mb: float) -> dict:
    """One summary for the fleet from the cells' results (see module docstring)."""
    meters = [m for r in results for m in r.get("meter_results", [])]
    out: dict[str, Any] = {"meters": len(meters), "cells": len(results)}
    if meters:
        out["device_hours"] = meters[0]["device_hours"]
    for key in SUMMED:
        out[key] = sum(int(m.get(key, 0)) for m in meters)
    charges = [m["charge_mah_per_day"] for m in meters if m.get("charge_mah_per_day")]
    if charges:
        out["charge_mah_per_day_mean"] = round(sum(charges) / len(charges), 4)
        out["charge_mah_per_day_max"] = max(charges)
    per_second: Counter[int] = Counter()
    for r in results:
        for sec, n in r.get("uplinks_per_device_second", {}).items():
            per_second[int(sec)] += n
    peak = max(per_second.values(), default=0)
    later = [n for s, n in per_second.items() if s >= POWER_ON_S]
    out["collector"] = {
        "rows_stored": sum(int(r.get("rows_stored", 0)) for r in results),
        "peak_datagrams_per_device_s": peak,
        "peak_datagrams_per_device_s_after_power_on": max(later, default=0),
        "seconds_at_peak": sum(1 for n in per_second.values() if n == peak) if peak else 0,
        "busiest_device_s": (min(s for s, n in per_second.items() if n == peak) if peak else None),
    }
    by_process: Counter[str] = Counter()
    for r in results:
        by_process.update(r.get("cpu_s_by_process", {}))
    meter_days = len(meters) * out.get("device_hours", 0) / 24
    out["host"] = {
        "wall_s": round(wall_s, 1),
        "cpu_s": round(cpu_s, 1),
        "wall_s_per_meter_day": round(wall_s / meter_days, 2) if meter_days else None,
        "cpu_s_per_meter_day": round(cpu_s / meter_days, 2) if meter_days else None,
        "peak_rss_largest_process_mb": round(rss_mb, 1),
        "peak_rss_cell_mb": max((r.get("cell_rss_peak_mb", 0) for r in results), default=0),
        "peak_rss_per_meter_mb": max((r.get("meter_rss_peak_mb", 0) for r in results), default=0),
        "cpu_s_by_process": {k: round(v, 1) for k, v in sorted(by_process.items())},
    }
    return out


def failures(results: list[dict[str, Any]]) -> list[str]:
    """One line per cell that failed and per meter whose run the demo's accounting failed
    (a missed sample slot, a lost reading, a duplicate stored, a late alarm:
    host_tools.rig.account)."""
    lines = [r["failure"] for r in results if r.get("failure")]
    for r in results:
        for m in r.get("meter_results", []):
            if m.get("failures"):
                where = f"meter {m['meter']} (device {m['device']}, cell {r['cell']})"
                lines.append(f"{where}: " + "; ".join(m["failures"]))
    return lines
