"""`nbkit fleet`: a request is checked and split into cells before anything starts.

Bad values get `nbkit: <what> - <what to do>` and exit 1 without a process started or a folder
made; a run whose memory estimate is beyond the machine's available memory is refused with the
estimate in the message.
"""

from __future__ import annotations

import pytest

from host_tools import cli
from host_tools.fleet import plan
from host_tools.rig.rig import EPOCH


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--meters", "0"], "--meters 0: give 1 to 100,000 meters"),
        (["--meters", "-5"], "--meters -5: give 1 to"),
        (["--meters", "1000000"], "--meters 1000000: give 1 to"),
        (["--meters", "3", "--hours", "0"], "--hours 0: give more than 0"),
        (["--meters", "3", "--hours", "-2"], "--hours -2: give more than 0"),
        (["--meters", "3", "--hours", "1e9"], "at most a year"),
        (["--meters", "3", "--hours", "nan"], "--hours nan"),
        (["--meters", "3", "--spread", "-1"], "--spread -1: give 0"),
        (["--meters", "3", "--spread", "14400"], "less than the report interval"),
        (["--meters", "3", "--cells", "4"], "--cells 4: give 1 to --meters (3)"),
        (["--meters", "3", "--cells", "0"], "--cells 0"),
        (["--meters", "3", "--workers", "0"], "--workers 0: give 1 to"),
        (["--meters", "3", "--workers", "100000"], "--workers 100000"),
        (["--meters", "3", "--report-interval", "10"], "--report-interval 10: must be"),
        (["--meters", "3", "--read-interval", "1800", "--report-interval", "900"], "shorter"),
        (["--meters", "3", "--hang-s", "0"], "--hang-s 0"),
    ],
)
def test_bad_values_are_refused_before_anything_starts(argv, message, capsys, tmp_path):
    workdir = tmp_path / "never"
    assert cli.main(["fleet", *argv, "--workdir", str(workdir)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nbkit: ") and message in err, err
    assert "Traceback" not in err
    assert not workdir.exists()  # nothing was started, not even a folder


def test_a_fleet_beyond_the_machines_memory_is_refused_with_the_estimate(
    monkeypatch, capsys, tmp_path
):
    monkeypatch.setattr(plan, "available_mb", lambda: 4000)
    argv = ["fleet", "--meters", "200", "--cells", "2", "--workers", "2"]
    assert cli.main([*argv, "--workdir", str(tmp_path / "w")]) == 1
    err = capsys.readouterr().err
    need = 2 * (100 * plan.MB_PER_METER + plan.MB_PER_CELL)
    assert f"need about {need:,} MB" in err and "4,000 MB available" in err, err
    assert "docs/scale.md" in err
    assert not (tmp_path / "w" / "cell0").exists()


def test_meters_are_split_into_cells_with_their_own_ids_and_spread_phases(tmp_path):
    req = plan.Request(meters=7, hours=6, spread=700, cells=3, workers=2, report_interval_s=3600)
    p = plan.make(tmp_path, req)
    members = [m for c in p.cells for m in c.meters]
    assert [len(c.meters) for c in p.cells] == [2, 2, 3]
    assert [m["device"] for m in members] == [plan.FIRST_DEVICE + i for i in range(7)]
    assert [m["phase"] for m in members] == [0, 100, 200, 300, 400, 500, 600]
    # the run lasts until the report that carries the last slot's reading (+ its ack)
    assert p.cells[0].end_s == 6 * 3600 + 600 + plan.TAIL_S
    assert len({c.workdir for c in p.cells}) == 3


def test_no_spread_means_every_meter_reports_at_once(tmp_path):
    p = plan.make(tmp_path, plan.Request(meters=4, hours=24, workers=1))
    assert {m["phase"] for c in p.cells for m in c.meters} == {0}
    assert p.cells[0].end_s == 24 * 3600 + plan.TAIL_S
    assert (EPOCH + 24 * 3600) % 14400 == 0  # the demo's epoch: report slots on the hour


def test_default_cells_keep_every_worker_busy_and_cells_small(tmp_path):
    assert plan.check(plan.Request(meters=3, hours=1, workers=2)) == (2, 2)
    assert plan.check(plan.Request(meters=50, hours=1, workers=2)) == (5, 2)
    assert plan.check(plan.Request(meters=1, hours=1, workers=4)) == (1, 4)


def _meter(name, device, **over):
    m = {
        "meter": name,
        "device": device,
        "device_hours": 24.0,
        "readings_expected": 96,
        "readings_taken": 96,
        "readings_delivered": 96,
        "readings_pending_on_device": 0,
        "readings_lost": 0,
        "duplicates_stored": 0,
        "slots_missed": 0,
        "failures": [],
        "uplinks": 7,
        "rows_stored": 97,
        "charge_mah_per_day": 0.8,
    }
    return {**m, **over}


def test_cells_merge_into_one_fleet_as_one_collector_would_see_it():
    from host_tools.fleet import figures

    cells = [
        {"cell": 0, "meter_results": [_meter("m0", 1)], "rows_stored": 97,
         "uplinks_per_device_second": {"36": 1, "14401": 1}},
        {"cell": 1, "meter_results": [_meter("m1", 2, charge_mah_per_day=1.0)], "rows_stored": 97,
         "uplinks_per_device_second": {"36": 1, "14460": 1}},
    ]  # fmt: skip
    s = figures.merge(cells, wall_s=20.0, cpu_s=30.0, rss_mb=26.0)
    assert (s["meters"], s["readings_expected"], s["readings_delivered"]) == (2, 192, 192)
    assert s["collector"]["peak_datagrams_per_device_s"] == 2  # both boots in second 36
    assert s["collector"]["peak_datagrams_per_device_s_after_power_on"] == 1  # reports apart
    assert s["collector"]["rows_stored"] == 194
    assert s["charge_mah_per_day_max"] == 1.0 and s["charge_mah_per_day_mean"] == 0.9
    assert s["host"]["wall_s_per_meter_day"] == 10.0 and s["host"]["cpu_s_per_meter_day"] == 15.0
    assert figures.failures(cells) == []


def test_a_lost_reading_or_missed_slot_is_a_line_naming_the_meter():
    from host_tools.fleet import figures

    cells = [
        {"cell": 3, "meter_results": [
            _meter("m7", 107, readings_lost=2, failures=["2 readings lost (2 sequence gaps)"]),
            _meter("m8", 108, slots_missed=2, failures=["missed sample slot at 1.25 h",
                                                        "missed sample slot at 1.50 h"]),
            _meter("m9", 109),
        ]},
        {"cell": 4, "failure": "cell 4: meter m12 (device 112): the vboard stopped (code 1)"},
    ]  # fmt: skip
    lines = figures.failures(cells)
    assert lines == [
        "cell 4: meter m12 (device 112): the vboard stopped (code 1)",
        "meter m7 (device 107, cell 3): 2 readings lost (2 sequence gaps)",
        "meter m8 (device 108, cell 3): missed sample slot at 1.25 h; "
        "missed sample slot at 1.50 h",
    ], lines
