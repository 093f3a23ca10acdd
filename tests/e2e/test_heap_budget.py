"""The water meter's wakes fit the 64 KiB heap of issue 15: the real firmware (.mpy in the virtual
board's ROM, run in place; MicroPython with `-X heapsize=64Kw`) runs its power-on (service
window, config check, then the meter cycle afresh: app.device), the boot report, sample wakes and
the next scheduled report against the emulated BC28 and the collector. A wake that needs more
heap than that ends in a MemoryError, which the device logs (`nbkit: unexpected error (heap
free .., used ...)`) before its last resort: the test fails on that line, and when the second
report wake did not send and go to sleep.

Budgets are bytes of a 32-bit MCU's heap (the vboard doubles them for the unix port's 64-bit
objects, MicroPython's `w` suffix). What it takes (docs/architecture.md, "Heap"): a report wake
interns at most the 1,260 names MicroPython's first six qstr pools hold (the seventh would take
14 KB x64 at once), and holds one stack at a time (the meter's code or the modem's). 60 KiB
does not fit; `nbkit bench --suite heap` prints the peaks of every profile.
"""

from __future__ import annotations

import pytest

from host_tools.rig.rig import EPOCH, Rig, RigOptions

pytestmark = pytest.mark.e2e

REPORT_S = 3600  # the report after the boot report comes an hour later, 4 samples after it
HOURS = 4  # device hours at most: the run ends when that report wake has gone to sleep
WATER_BUDGET = 64 * 1024  # issue 15


def _crashes(rig: Rig) -> list[str]:
    bad = ("unexpected error", "error, retrying", "MemoryError")
    return [ln for ln in rig.console_lines if any(b in ln for b in bad)]


def _second_report_done(rig: Rig) -> bool:
    # a second wake sent an uplink and went to sleep (the whole report wake ran)
    reporting = 0
    sent = False
    for line in list(rig.console_lines):
        if line.startswith("nbkit: uplink "):
            sent = True
        elif line.startswith("nbkit: sleep ") and sent:
            reporting += 1
            sent = False
    return reporting >= 2


def _run_water_day_part(tmp_path, heap_bytes: int) -> Rig:
    # until the second report wake has sent and gone to sleep, a wake crashed, or HOURS passed
    opts = RigOptions(
        clock="sim", report_interval_s=REPORT_S, vboard_args=["--heap", f"{heap_bytes}w"]
    )
    rig = Rig(tmp_path, opts)
    with rig:
        rig.control(f"pulse pulse_a {int(HOURS * 180)} 20000")  # 1 L every 20 s
        rig.run_until(
            EPOCH + HOURS * 3600, lambda: _second_report_done(rig) or bool(_crashes(rig))
        )
    return rig


def _assert_fits(rig: Rig, heap_bytes: int) -> None:
    crashes = _crashes(rig)
    assert not crashes, f"the water wakes do not fit {heap_bytes // 1024} KiB: {crashes[:3]}"
    assert _second_report_done(rig), rig.console_lines[-30:]  # the boot report and the next
    assert len(rig.uplinks) >= 2
    assert any(ln.startswith("nbkit: read ") for ln in rig.console_lines)  # sample wakes ran


def test_water_wakes_run_within_the_64k_budget(tmp_path):
    _assert_fits(_run_water_day_part(tmp_path, WATER_BUDGET), WATER_BUDGET)
