"""Bench suite: the water demo on the rig's time master, wall time per device day.

Issue 13's targets: one device day in 15 s of wall time or less, 30 device days in 3 minutes
or less. The figures are the demo's own (`nbkit demo --json`): the same run the README shows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

#: (device hours, target wall seconds)
_RUNS = ((24.0, 15.0), (720.0, 180.0))


def run(report: Any) -> None:
    report.heading("sim-day", "Water demo on the simulated clock (nbkit demo --json)")
    for hours, target in _RUNS:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "host_tools", "demo", "--json", "--hours", f"{hours:g}"],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        report.figure(f"{hours:g} device hours, wall", wall, "s", f"target <= {target:g} s")
        report.figure(f"  wall per device day ({hours:g} h run)", wall * 24 / hours, "s")
        if out.returncode != 0:
            report.figure("  demo FAILED", out.returncode, "exit code", out.stderr[-300:])
            continue
        summary = json.loads(out.stdout)
        report.figure("  readings taken / expected",
                      f"{summary['readings_taken']}/{summary['readings_expected']}")  # fmt: skip
        report.figure("  charge per day (timeline)", summary["charge_mah_per_day"], "mAh")
        model = summary["model_charge_mah_per_day"]
        report.figure("  charge per day (energy model)", model, "mAh")
