"""Power cuts at every flash write index of a running meter: nothing acknowledged is lost,
nothing corrupt is delivered, and the collector holds every reading exactly once.

The real firmware runs on the virtual board (littlefs image, MicroPython) against the emulated
modem and the real collector. For each write index k the power fails at flash write k (a plain
cut, or a torn write: half of it lands) of a power-on's first boot (service window, config check,
the boot cause left for the second: app.device) or of a boot that runs the meter cycle (a
power-on's second, in a fresh heap, or a timer wake). Readings and reports every 60 s device
time make every such boot sample, store, report and ack: the sweep covers every write of both.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from host_tools.rig.rig import Rig, RigOptions

pytestmark = pytest.mark.e2e

WRITE_INDEXES = range(1, 25)
TRIES = 4  # a boot with less to do writes less: cut again until write k is reached


def _cut_at(rig: Rig, k: int, boot: int) -> bool:
    """Cut the power at flash write k of a power-on's first boot (boot 1: a power cycle, then
    the cut) or of a boot that runs the meter cycle (boot 2: armed while the board sleeps, for
    the boot that follows: a power-on's second, or a timer wake). False: that boot wrote less."""
    status = _status(rig)
    cuts, boots = len(status["cuts"]), status["boots"]
    torn = " torn" if k % 2 else ""
    if boot == 1:
        rig.control(f"cut {k}{torn}")
    else:

        def asleep() -> bool:
            return bool(_status(rig)["state"] == "sleeping")

        # device time holds where the board went to sleep: the next boot is armed in time
        assert rig.run_until(rig.virtual_now() + 120, asleep), rig.console_lines[-20:]
        boots = _status(rig)["boots"]
        rig.control(f"arm {k}{torn}")
    outcome: list[bool] = []

    def settled() -> bool:
        status = _status(rig)
        if len(status["cuts"]) > cuts:
            outcome.append(True)
        elif status["boots"] > boots and status["state"] == "sleeping":
            outcome.append(False)
        return bool(outcome)

    rig.wait_for(settled, 15_000)  # device time runs while it waits (the rig's time master)
    rig.check_alive()
    return bool(outcome and outcome[0])


def _status(rig: Rig) -> dict:
    return json.loads(rig.control("status"))


def _delivered(db_path) -> list[tuple[int, str, int]]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT seq, name, value FROM readings WHERE device = 1042 ORDER BY seq")
        return [(int(s), str(n), int(v)) for s, n, v in rows]


def test_power_cut_at_every_flash_write_loses_and_duplicates_nothing(tmp_path):
    rig = Rig(tmp_path, RigOptions(read_interval_s=60, report_interval_s=60))
    with rig:
        rig.control("pulse pulse_a 100000 5000")
        assert rig.wait_for(lambda: len(rig.uplinks) >= 1, device_s=60_000), rig.console_lines[
            -20:
        ]
        swept = {}
        for boot in (1, 2):
            before = len(_status(rig)["cuts"])
            for k in WRITE_INDEXES:
                if not any(_cut_at(rig, k, boot) for _ in range(TRIES)):
                    break  # boots no longer reach write k: every write of a boot was cut
            swept[boot] = _status(rig)["cuts"][before:]
        # after the last cut the board runs on: every stored reading gets reported and acked
        uplinks = len(rig.uplinks)
        assert rig.wait_for(lambda: len(rig.uplinks) >= uplinks + 2, device_s=60_000)
        rig.control("power off")
    # every write index of both boots was cut, from the first write to the last one they reach
    for boot, cuts in swept.items():
        assert sorted(set(cuts)) == list(range(1, max(cuts) + 1)), (boot, cuts)
    assert max(swept[2]) >= 10, swept
    print(f"power cut at flash writes {swept}")
    rows = _delivered(rig.path("collector.db"))
    seqs = [s for s, _, _ in rows]
    assert seqs == list(range(len(seqs))), f"gaps or duplicates in delivered seqs: {seqs}"
    values = [v for _, name, v in rows if name == "water"]
    # the readings, the boot events, and a leak alarm once a day of flow has no quiet window
    names = {name for _, name, _ in rows}
    assert {"water", "boot"} <= names <= {"water", "boot", "leak"}, rows
    assert values == sorted(values), "a delivered water index went backwards (corrupt record)"
    summary = [
        json.loads(ln)
        for ln in rig.path("collector.stderr").read_text().splitlines()
        if ln.startswith("{")
    ]
    log = rig.path("collector.stderr").read_text()
    for bad in ("rejected forged", "rejected seq_reused", "rejected malformed"):
        assert bad not in log, log[-2000:]
    assert len(seqs) >= 20, f"only {len(seqs)} readings delivered"
    del summary
