"""The water profile on the virtual board: pulses counted by the board's hardware counter while
the firmware deep-sleeps, flow alarms on RTC windows that survive every deep sleep, a magnet
that wakes the board and is reported at once, reverse flow, and a power loss between reports.

The real firmware (.mpy on littlefs, MicroPython) runs against the emulated modem and the real
collector; every figure below is what the collector stored.
"""

from __future__ import annotations

import json

import pytest

from host_tools.rig.rig import Rig, RigOptions
from tests.support.collected import named, stored

pytestmark = pytest.mark.e2e

FLOW_PULSES = 1560  # one pulse a minute: 60 L/h for 26 h, never a quiet half hour
REVERSE_PULSES = 5


def _status(rig: Rig) -> dict:
    return json.loads(rig.control("status"))


def test_water_alarms_and_a_power_loss_between_reports(tmp_path):
    rig = Rig(tmp_path, RigOptions(read_interval_s=900, report_interval_s=14400))
    with rig:
        assert rig.wait_for(lambda: len(rig.uplinks) >= 1, device_s=120_000), rig.console_lines[
            -20:
        ]
        rig.control(f"pulse pulse_a {FLOW_PULSES} 60000")

        # a magnet at the meter: the field sensor ends the deep sleep and the alarm goes at once
        assert rig.wait_for(lambda: _status(rig)["state"] == "sleeping", device_s=160_000)
        rig.control("set tamper 0")
        assert rig.wait_for(lambda: _status(rig)["last_boot"]["wake"] == "tamper", device_s=80_000)
        assert rig.wait_for(lambda: named(rig, "tamper"), device_s=120_000), rig.console_lines[
            -20:
        ]
        assert named(rig, "tamper")[0][1] == 1  # 1: the field sensor
        assert rig.wait_for(
            lambda: _reported_in_the_same_wake(rig.console_lines, "tamper 1 URGENT"),
            device_s=80_000,
        ), rig.console_lines[-20:]
        rig.control("set tamper 1")

        # reverse pulses from the board's quadrature decoder (played after the forward ones)
        rig.control(f"pulse pulse_b {REVERSE_PULSES} 1000")

        # a power loss between reports, after the counts were sampled
        assert rig.wait_for(lambda: len(named(rig, "water")) >= 8, device_s=120_000)
        assert rig.wait_for(lambda: _status(rig)["state"] == "sleeping", device_s=160_000)
        rig.control("power cycle")

        # a day of flow without a quiet half hour: a leak; then it stops and the leak clears
        assert rig.wait_for(lambda: _leak(rig) != (0, 0), device_s=360_000), rig.console_lines[
            -30:
        ]
        assert rig.wait_for(lambda: _leak(rig)[1] >= 1, device_s=240_000), named(rig, "leak")
        assert rig.wait_for(lambda: _last(rig, "water") == FLOW_PULSES, device_s=120_000)
        rig.control("power off")

    rows = stored(rig)
    seqs = [s for s, _, _, _ in rows]
    assert seqs == list(range(len(seqs))), f"gaps or duplicates in delivered seqs: {seqs}"
    water = [v for _, v in named(rig, "water")]
    assert water == sorted(water) and water[-1] == FLOW_PULSES, water  # each pulse once
    assert [v for _, v in named(rig, "leak")][:2] == [1, 0], named(rig, "leak")
    assert [v for _, v in named(rig, "tamper")][:2] == [1, 0], named(rig, "tamper")
    assert _last(rig, "water_reverse") == REVERSE_PULSES
    assert named(rig, "reverse_flow")[0][1] == REVERSE_PULSES  # the register when seen
    assert sum(1 for _, _, n, _ in rows if n == "boot") == 2  # power-up and the power cycle
    log = rig.path("collector.stderr").read_text()
    for bad in ("rejected forged", "rejected seq_reused", "rejected malformed"):
        assert bad not in log, log[-2000:]
    print(f"water readings {len(water)}, alarms {[r for r in rows if r[2] != 'water'][:12]}")


def _reported_in_the_same_wake(lines: list[str], event: str) -> bool:
    """The wake that logged `event` sent it and had it acked before it went to sleep (False
    while that wake is still running)."""
    lines = list(lines)
    start = next((i for i, line in enumerate(lines) if line.endswith(event)), None)
    if start is None:
        return False
    wake = []
    for line in lines[start + 1 :]:
        if line.startswith("nbkit: sleep"):
            return "uplink" in wake and "ack" in wake
        wake.append(line.split()[1] if line.startswith("nbkit: ") else "")
    return False


def _leak(rig: Rig) -> tuple[int, int]:
    """(leak raised count, leak cleared count) delivered so far."""
    values = [v for _, v in named(rig, "leak")]
    return values.count(1), values.count(0)


def _last(rig: Rig, name: str) -> int | None:
    values = named(rig, name)
    return values[-1][1] if values else None
