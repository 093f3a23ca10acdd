"""Bench suite: `nbkit fleet` scaling, wall time per meter-day at a small and a larger fleet.

Each point is a real `nbkit fleet --json` run (water meters, BC28 over UDP, real firmware, one
emulator and one virtual board per meter, cells on worker processes). Both points run one
device day, as the 1,000-meter run does, so the bench stays within about a minute and the
figure that scales, the wall (and CPU) time per meter-day, is that run's: every meter is its own
processes and each cell its own time master, so it stays flat with the fleet's size
(docs/scale.md has the 1,000-meter runs). The issue's target (1,000 meters for one device day in
15 minutes: 0.9 s wall per meter-day) is printed beside the projection.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from typing import Any

#: (meters, device hours): two fleet sizes, one device day each
POINTS = ((10, 24.0), (40, 24.0))
#: the issue's target: 1,000 meters x 1 device day in 15 minutes
TARGET_WALL_S_PER_METER_DAY = 15 * 60 / 1000


def _fleet(meters: int, hours: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nbkit-bench-fleet-") as tmp:
        cmd = [sys.executable, "-m", "host_tools", "fleet", "--meters", str(meters)]
        cmd += ["--hours", f"{hours:g}", "--spread", "600", "--workdir", tmp, "--json"]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        out: dict[str, Any] = json.loads(run.stdout)
    except ValueError:
        out = {"failures": [run.stderr.strip()[-500:] or f"exit {run.returncode}"]}
    return out


def run(report: Any) -> None:
    report.heading("fleet", "Fleet: wall time per meter-day (nbkit fleet, cells on workers)")
    per_day: dict[int, float] = {}
    for meters, hours in POINTS:
        s = _fleet(meters, hours)
        if s.get("failures"):
            report.figure(f"{meters} meters x {hours:g} h", "FAILED", "", s["failures"][0][:200])
            continue
        host, label = s["host"], f"{meters} meters x {hours:g} h"
        per_day[meters] = host["wall_s_per_meter_day"]
        report.figure(f"{label}: wall", host["wall_s"], "s", f"{s['cells']} cells")
        report.figure(f"  wall per meter-day, {meters} meters", per_day[meters], "s")
        report.figure(f"  CPU per meter-day, {meters} meters", host["cpu_s_per_meter_day"], "s")
        rss = host["peak_rss_per_meter_mb"]
        report.figure(f"  peak RSS per meter, {meters} meters", rss, "MB")
        collector = s["collector"]
        report.figure(
            f"  peak uplinks per device second, {meters} meters",
            collector["peak_datagrams_per_device_s"],
            "datagrams",
            "every meter powers on at once",
        )
        report.figure(
            f"  the same after power-on, {meters} meters",
            collector["peak_datagrams_per_device_s_after_power_on"],
            "datagrams",
            "reports spread over 600 s",
        )
        lost = s["readings_lost"] + s["slots_missed"]
        report.figure(f"  readings lost or slots missed, {meters} meters", lost, "")
    if len(per_day) == len(POINTS):
        small, large = (per_day[m] for m, _ in POINTS)
        report.figure(
            f"wall per meter-day, {POINTS[1][0]} vs {POINTS[0][0]} meters", large / small, "x"
        )
        report.figure(
            "projected wall, 1,000 meters x 24 h", large * 1000 / 60, "min",
            f"target 15 min = {TARGET_WALL_S_PER_METER_DAY:g} s per meter-day",
        )  # fmt: skip
