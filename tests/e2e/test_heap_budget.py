"""The water meter's demo day fits issue 15's 64 KiB heap: `nbkit demo --heap 64` runs the real
firmware (.mpy in the virtual board's ROM, run in place; MicroPython with `-X heapsize=64Kw`)
for a device day against the emulated BC28 and the collector: its power-on (service window,
config check, then the meter cycle afresh: app.device), the boot report, 96 sample wakes, six
scheduled reports, the magnet's tamper alarm and the leak alarm. A wake that needs more heap
ends in a MemoryError, which the device logs before its last resort counts it and reports it
upstream (REPORT_FAILED, REPORT_FAULT 6: a crash): the test fails on such a record at the
collector and on anything the demo's own accounting fails (a missed slot, a reading lost or
never delivered, an alarm late).

The margin: the same day runs in 61 KiB here, in 60 with most folder names, and fails in 59
(the heap's fragmentation moves with the host, the paths the board is given and where the
conservative collector finds stale pointers, so the edge moves by about a KiB; 3-4 KiB below
the target cover that). Before the virtual flash's erase pattern (a block, 4 KB) left the heap
and the board's boot code left it before main.py (nbkit.hal.unix_boot), the day failed at 62
and about 1 run in 40 at 64; littlefs's 512-byte cache (a 128-byte read size, for speed) took
back about a KiB of what that gained.

Budgets are KiB of a 32-bit MCU's heap (the vboard doubles them for the unix port's 64-bit
objects, MicroPython's `w` suffix). What it takes (docs/architecture.md, "Heap"): a report wake
interns at most the 1,260 names MicroPython's first six qstr pools hold (the seventh would take
14 KB x64 at once), and holds one stack at a time (the meter's code or the modem's);
`nbkit bench --suite heap` prints the peaks and names of every profile.
"""

from __future__ import annotations

import json

import pytest

from host_tools.cli import main
from host_tools.rig import account

pytestmark = pytest.mark.e2e

WATER_BUDGET_KIB = 64  # issue 15


def test_the_water_demo_day_runs_within_64k(tmp_path, capsys):
    code = main(
        ["demo", "--heap", str(WATER_BUDGET_KIB), "--json", "--workdir", str(tmp_path / "run")]
    )
    summary = json.loads(capsys.readouterr().out)
    # a MemoryError reaches the firmware's last resort, which reports it with the next uplink
    # (REPORT_FAULT 6, crash); a day without one ran every wake within the heap
    faults = [r for r in account.rows(tmp_path / "run" / "collector.db") if r["code"] >= 0x64]
    assert not faults, f"the water wakes do not fit {WATER_BUDGET_KIB} KiB: {faults[:3]}"
    assert code == 0 and not summary["failures"], summary["failures"]
    assert summary["readings_taken"] == summary["readings_expected"] == 96, summary
    assert summary["readings_delivered"] == 96 and summary["readings_lost"] == 0, summary
    assert summary["uplinks"] >= 7, summary  # the boot report, six reports, the alarm
    assert [a["delay_s"] for a in summary["alarms"] if a["name"] == "tamper"] != [], summary


def test_a_heap_the_demo_cannot_take_is_refused_before_anything_starts(capsys):
    assert main(["demo", "--heap", "8"]) == 1
    assert "--heap 8: give KiB, 16 to 4096" in capsys.readouterr().err
