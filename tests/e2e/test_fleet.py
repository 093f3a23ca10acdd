"""`nbkit fleet` end to end: meters in cells on their own time masters, real firmware each.

A small fleet takes every sample slot and loses nothing, each device's rows at the collector;
the spread puts the meters' reports at different device times. A participant that crashes or
hangs stops its cell: every process ends, the failure names the meter and shows its console,
the exit code is 1, and nothing waits forever.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host_tools.fleet.plan import FIRST_DEVICE
from host_tools.rig.rig import EPOCH

pytestmark = pytest.mark.e2e


def _fleet(workdir: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "host_tools",
        "fleet",
        "--workdir",
        str(workdir),
        *args,
    ]


def _fleet_summary(workdir: Path, *args: str) -> dict:
    """`nbkit fleet ... --json` in workdir: it exits 0 and its summary is returned."""
    run = subprocess.run(
        _fleet(workdir, *args, "--json"), capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout))


def _pids(workdir: Path, what: str) -> list[int]:
    ps = ["ps", "-ww", "-eo", "pid,args"]
    out = subprocess.run(ps, capture_output=True, text=True, check=True)
    return [
        int(ln.split()[0])
        for ln in out.stdout.splitlines()
        if str(workdir) in ln and what in ln and "ps -ww" not in ln
    ]


def test_a_small_fleet_takes_every_slot_and_loses_nothing(tmp_path):
    args = ("--meters", "3", "--hours", "3", "--cells", "2", "--report-interval", "3600")
    s = _fleet_summary(tmp_path, *args, "--spread", "300")
    assert (s["meters"], s["cells"]) == (3, 2)
    assert s["readings_expected"] == 3 * 3 * 4
    assert s["readings_taken"] == s["readings_delivered"] == s["readings_expected"]
    assert (s["readings_lost"], s["slots_missed"], s["duplicates_stored"]) == (0, 0, 0)
    assert s["failures"] == []
    host = s["host"]
    assert host["wall_s"] > 0 and host["cpu_s"] > 0 and host["peak_rss_per_meter_mb"] > 0
    rows = 0
    for cell in ("cell0", "cell1"):
        con = sqlite3.connect(tmp_path / cell / "collector.db")
        for (device,) in con.execute("SELECT DISTINCT device FROM readings"):
            slots = [
                t // 900
                for (t,) in con.execute(
                    "SELECT t FROM readings WHERE device = ? AND code < 64 ORDER BY t", (device,)
                )
            ]
            assert len(slots) == 12 and len(set(slots)) == 12, (device, slots)
            # its reports at its own phase: meter i of 3 reports i * 100 s after each hour
            phase = (device - FIRST_DEVICE) * 100
            received = [
                (r - EPOCH) % 3600
                for (r,) in con.execute(
                    "SELECT DISTINCT received FROM readings WHERE device = ? AND code < 64",
                    (device,),
                )
            ]
            assert all(phase <= r < phase + 60 for r in received), (device, received)
        rows += con.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
        con.close()
    assert rows == s["collector"]["rows_stored"] == s["rows_stored"] == 3 * 12 + 3  # + boots


def _start(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    args = ("--meters", "2", "--cells", "1", "--hours", "240", *extra)
    return subprocess.Popen(
        _fleet(tmp_path, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(tmp_path: Path, what: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _pids(tmp_path, what)
        if pids:
            return pids[0]
        time.sleep(0.2)
    raise AssertionError(f"no process {what} under {tmp_path}")


def _wait_running(tmp_path: Path, meter: str, timeout: float = 60) -> None:
    """Until the meter's modem has registered (its timeline shows it): the cell is mid-run,
    device time moving, when the test breaks one of its processes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for timeline in tmp_path.glob(f"**/{meter}/timeline.jsonl"):
            if '"connected"' in timeline.read_text():
                return
        time.sleep(0.05)
    raise AssertionError(f"meter {meter} never registered under {tmp_path}")


def _finish(fleet: subprocess.Popen[str], tmp_path: Path) -> str:
    try:
        _, err = fleet.communicate(timeout=90)
    finally:
        if fleet.poll() is None:
            fleet.kill()
    assert fleet.returncode == 1, err
    assert err.count("nbkit: the fleet did not deliver what it should:") == 1, err
    # no host traceback (the board's console may show MicroPython's own, quoted)
    assert not re.search(r'File "[^"]*host_tools', err), err
    gone = time.monotonic() + 5  # the processes' exit, not device time: polled
    while _pids(tmp_path, "host_tools") and time.monotonic() < gone:
        time.sleep(0.05)
    assert _pids(tmp_path, "host_tools") == [], "processes left running"
    return err


def test_a_run_that_goes_on_to_the_next_report_counts_only_its_own_slots(tmp_path):
    # 1 device hour with 4-hour reports: the cell runs on to the report that delivers them,
    # and the readings taken meanwhile are not the schedule's
    s = _fleet_summary(tmp_path, "--meters", "1", "--hours", "1")
    assert s["readings_expected"] == s["readings_taken"] == s["readings_delivered"] == 4, s


def test_a_crashed_emulator_stops_the_cell_and_is_named(tmp_path):
    fleet = _start(tmp_path)
    pid = _wait_for(tmp_path, "m1/timeline.jsonl")  # meter m1's emulator
    _wait_for(tmp_path, "m1/flash.img")  # its board is up too
    _wait_running(tmp_path, "m1")
    os.kill(pid, signal.SIGKILL)
    err = _finish(fleet, tmp_path)
    assert f"meter m1 (device {FIRST_DEVICE + 1}): the emulator stopped (code -9)" in err, err
    assert "last console lines of meter m1" in err, err


def test_a_hung_emulator_stops_the_cell_within_the_hang_time(tmp_path):
    fleet = _start(tmp_path, "--hang-s", "3")
    pid = _wait_for(tmp_path, "m0/timeline.jsonl")
    _wait_for(tmp_path, "m1/flash.img")
    _wait_running(tmp_path, "m0")
    os.kill(pid, signal.SIGSTOP)  # alive, but it never answers again
    err = _finish(fleet, tmp_path)
    # who holds time back: the stopped emulator (busy) or the bytes it never reads (in flight)
    assert "device time stopped" in err and re.search(r"m0\.(modem|uart)", err), err
    assert "last console lines of meter m0" in err, err


def test_cells_run_as_separate_tasks_merge_into_the_fleets_summary(tmp_path):
    # what each task of a distributed run does (docs/scale.md): one cell of the same plan
    plan = ("--meters", "2", "--cells", "2", "--hours", "0.5", "--report-interval", "900")
    results = []
    for index in ("0", "1"):
        run = subprocess.run(
            _fleet(tmp_path / f"task{index}", *plan, "--only-cell", index),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        (tmp_path / f"cell{index}.json").write_text(run.stdout)
        results.append(str(tmp_path / f"cell{index}.json"))
        assert json.loads(run.stdout)["cell"] == int(index)
    merged = subprocess.run(
        [sys.executable, "-m", "host_tools", "fleet", "--merge", *results, "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert merged.returncode == 0, merged.stderr
    s = json.loads(merged.stdout)
    assert (s["meters"], s["cells"], s["readings_expected"], s["readings_delivered"]) == (
        2,
        2,
        4,
        4,
    )
    assert s["collector"]["peak_datagrams_per_device_s"] == 2  # the two boots, one per cell
