"""Issue 18: validation cases, the Li-SOCl2 cell, the whole-device estimate and its CLI."""

import json
import subprocess
import sys

import pytest

from host_tools.device import boards
from host_tools.energy import cell, device, validation
from host_tools.energy.model import EnergyError


def test_every_validation_case_cites_where_its_number_is_written():
    rows = validation.evaluate()
    assert len({(r.case.source, r.case.quantity) for r in rows}) >= 6
    for row in rows:
        assert "'" in row.case.where  # the quoted sentence of the source
        assert row.within or row.case.explanation, row.name


def test_validation_ratio_is_model_over_published():
    row = validation.evaluate()[0]
    assert row.ratio == pytest.approx(row.model / row.case.published)
    assert row.name.startswith("validation: u-blox SARA-N2: ")


def test_cold_end_of_life_cell_needs_a_buffer_sized_for_the_burst():
    er26500 = cell.get("ER26500")
    fresh = er26500.pulse_at(20, end_of_life=False)
    assert er26500.pulse_at(-20, end_of_life=True) < fresh
    check = cell.pulse_check(er26500, burst_ma=170, burst_s=6.0, temp_c=-20)
    assert not check.ok
    excess_a = (170 - check.cell_ma) / 1000
    assert check.capacitor_f == pytest.approx(
        excess_a * 6.0 / (3.6 - cell.V_MIN_MODEM - excess_a * cell.ESR_OHM)
    )
    assert "F" in check.text()
    assert cell.pulse_check(er26500, burst_ma=50, burst_s=1, temp_c=20).ok


def test_capacity_falls_in_the_cold_and_self_discharge_grows_in_the_heat():
    c = cell.get("ER34615")
    assert c.capacity_factor(-20) < c.capacity_factor(20) == 1.0
    assert c.self_discharge_factor(60) > c.self_discharge_factor(20) == 1.0


@pytest.mark.parametrize("name", boards.board_names())
def test_every_board_gets_a_whole_device_estimate(name):
    est = device.estimate(name, "ER26500", device.parse_schedule("24/day,reads=24"))
    assert est.years > 0
    assert set(est.per_day) == {
        "modem",
        "mcu awake",
        "mcu wakes",
        "mcu asleep",
        "pulse counter",
        "meter bus",
    }
    assert sum(est.shares().values()) == pytest.approx(1.0)


def test_more_reports_and_worse_coverage_shorten_the_life():
    one = device.estimate("unix_sim", "ER26500", device.parse_schedule("daily"))
    many = device.estimate("unix_sim", "ER26500", device.parse_schedule("1h"))
    deep = device.estimate("unix_sim", "ER26500", device.parse_schedule("1h,ce=2"))
    assert one.years > many.years > deep.years


def test_schedule_forms():
    assert device.parse_schedule("15min").reports_per_day == pytest.approx(96)
    assert device.parse_schedule("reports=2h,temp=-10").temp_c == -10
    with pytest.raises(EnergyError, match="unknown key"):
        device.parse_schedule("colour=blue")


def test_board_power_figures_need_a_source():
    data = boards.load("unix_sim")
    del data["power"]["mcu_sleep"]["source"]
    assert any("power.mcu_sleep" in p for p in boards.validate(data))


def test_cli_answers_years_for_a_board_with_a_plot(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "host_tools",
            "energy",
            "--board",
            "esp32_bc28",
            "--battery",
            "ER34615",
            "--schedule",
            "24/day,ce=1,temp=-20",
            "--plot",
            str(tmp_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    assert data["years"] > 0 and data["pulse"]["burst_ma"] > 0
    assert (tmp_path / "charge-esp32_bc28.png").stat().st_size > 1000


def test_cli_unknown_board_is_a_clear_error():
    out = subprocess.run(
        [sys.executable, "-m", "host_tools", "energy", "--board", "nope"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "known boards" in out.stderr


def test_a_report_that_wastes_the_air_is_above_the_floor():
    # the floor ratio can fail: a second RRC connection and a second uplink cost more
    from host_tools.energy import floor
    from host_tools.energy.model import Record, integrate, load_profile

    profile = load_profile("bc28")
    lean = [Record(0, "connected"), Record(0.5, "tx"), Record(0.7, "connected")]
    lean += [Record(2.2, "idle"), Record(12.2, "psm")]
    wasteful = [*lean[:3], Record(2.2, "idle"), Record(4, "connected"), Record(4.5, "tx")]
    wasteful += [Record(4.7, "connected"), Record(6.2, "idle"), Record(16.2, "psm")]
    minimum = integrate(floor._minimum(0, 12, 10.0), profile).total_mah
    for report, expect in ((lean, 1.0), (wasteful, None)):
        modelled, connections, uplinks, _ = floor._modelled(report, 0, 12)
        ratio = integrate(modelled, profile).total_mah / minimum
        if expect:
            assert (connections, uplinks) == (1, 1) and ratio == pytest.approx(1.0)
        else:
            assert (connections, uplinks) == (2, 2) and ratio > 1.5


def test_app_floor_compares_only_wakes_from_psm():
    from host_tools.energy import floor_app

    timeline = [
        {"t": t, "state": s, "ce": 0}
        for t, s in (
            (0, "boot"),
            (3, "search"),
            (33, "connected"),
            (34, "tx"),
            (35, "connected"),
            (37, "idle"),
            (47, "psm"),
            (900, "connected"),
            (900.5, "tx"),
            (900.7, "connected"),
            (902.2, "idle"),
            (912.2, "psm"),
            (1800, "search"),
            (1830, "connected"),
            (1840, "psm"),
        )
    ]
    wakes = floor_app._wakes(timeline)
    assert [[r.state for r in w] for w in wakes] == [
        ["connected", "tx", "connected", "idle", "psm"]
    ]


def test_every_mcu_wake_costs_its_awake_time():
    few = device.estimate("esp32_bc28", "ER26500", device.parse_schedule("24/day"))
    many = device.estimate("esp32_bc28", "ER26500", device.parse_schedule("24/day,wakes=96"))
    board = boards.load("esp32_bc28")["power"]
    per_wake = board["mcu_active"]["ma"] * board["mcu_wake"]["s"] / 3600
    assert many.per_day["mcu wakes"] - few.per_day["mcu wakes"] == pytest.approx(72 * per_wake)
