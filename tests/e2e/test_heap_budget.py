"""The water meter's wakes fit their heap budget: the real firmware (.mpy in the virtual board's
ROM, run in place; MicroPython with `-X heapsize=<budget>w`) runs its first boot (service window,
key move, boot report), sample wakes and the next scheduled report against the emulated BC28 and
the collector. A wake that needs more heap than the budget ends in a MemoryError, which the
device logs (`nbkit: unexpected error (heap free ..., used ...)`) before its last resort: the
test fails on that line, and when the second report wake did not send and go to sleep.

Budgets are bytes of a 32-bit MCU's heap (the vboard doubles them for the unix port's 64-bit
objects, MicroPython's `w` suffix). Issue 15 asks 64 KiB for the water profile; the firmware
does not fit it yet (see `nbkit bench --suite heap`), so that case is a strict xfail: it fails
the suite the day the wake fits, and the budget below must then come down to it.
"""

from __future__ import annotations

import pytest

from host_tools.rig.rig import EPOCH, Rig, RigOptions

pytestmark = pytest.mark.e2e

REPORT_S = 3600  # the report after the boot report comes an hour later, 4 samples after it
HOURS = 4  # device hours at most: the run ends when that report wake has gone to sleep
#: the heap the water meter's wakes need at most on the BC28 virtual board (84 KiB fits, 80 does
#: not: the report wake holds about 75 KiB live, and the rest goes to fragmentation); the board
#: declares more (boards/unix_sim.json): the service window's self-test holds the console, the
#: app and the modem stack at once
WATER_BUDGET = 88 * 1024
TARGET = 64 * 1024  # issue 15


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


def test_water_wakes_run_within_the_budget(tmp_path):
    _assert_fits(_run_water_day_part(tmp_path, WATER_BUDGET), WATER_BUDGET)


@pytest.mark.xfail(
    strict=True,
    reason="issue 15 target: the water wakes do not fit 64 KiB yet (report wake ~75 KiB live)",
)
def test_water_wakes_run_within_the_64k_target(tmp_path):
    _assert_fits(_run_water_day_part(tmp_path, TARGET), TARGET)
