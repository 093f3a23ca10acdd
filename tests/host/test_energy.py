"""Energy model: profiles with sources, timeline integration, batteries, synthetic timelines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from host_tools.energy import battery, model, synth

SIMPLE_PROFILE: dict[str, Any] = {
    "model": "test",
    "modem": {
        "psm": {"ma": 0.003, "source": "test"},
        "idle": {"ma": 0.4, "source": "test"},
        "edrx": {"ma": 0.05, "source": "test"},
        "connected": {"ma": 50.0, "source": "test"},
        "tx": {
            "ce0": {"ma": 100.0, "source": "test"},
            "ce1": {"ma": 150.0, "source": "test"},
            "ce2": {"ma": 200.0, "source": "test"},
        },
        "search": {"ma": 30.0, "source": "test"},
        "boot": {"ma": 20.0, "source": "test"},
        "off": {"ma": 0.0, "source": "test"},
    },
    "mcu": {
        "sleep": {"ma": 0.005, "source": "test"},
        "active": {"ma": 2.0, "source": "test"},
        "floor": {"ma": 0.001, "source": "test"},
        "active_states": ["connected", "tx"],
    },
}

# wake from PSM at 100 s, 2 s connected, 0.5 s TX at CE1, 1.5 s to the RRC release, T3324 10 s
HAND_TIMELINE = [
    {"t": 0, "state": "psm", "ce": 0},
    {"t": 100, "state": "connected", "ce": 0},
    {"t": 102, "state": "tx", "ce": 1},
    {"t": 102.5, "state": "connected", "ce": 0},
    {"t": 104, "state": "idle", "ce": 0},
    {"t": 114, "state": "psm", "ce": 0},
]


def _write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def simple() -> model.Profile:
    return model.profile_from_dict(SIMPLE_PROFILE)


def test_hand_made_timeline_integrates_to_the_hand_computed_charge(
    tmp_path: Path, simple: model.Profile
) -> None:
    records = model.read_timeline(_write_jsonl(tmp_path / "t.jsonl", HAND_TIMELINE))
    result = model.integrate(records, simple, end=3600)
    psm_mas = (100 + 3486) * (0.003 + 0.005 + 0.001)  # mA x s
    connected_mas = (2 + 1.5) * (50 + 2 + 0.001)
    tx_mas = 0.5 * (150 + 2 + 0.001)  # the CE1 TX current
    idle_mas = 10 * (0.4 + 0.005 + 0.001)
    expected = (psm_mas + connected_mas + tx_mas + idle_mas) / 3600
    assert result.total_mah == pytest.approx(expected, rel=1e-12)
    assert result.by_state["tx"].mah == pytest.approx(tx_mas / 3600)
    assert result.by_state["psm"].seconds == pytest.approx(3586)
    assert result.reports == 1
    assert result.awake_s == pytest.approx(14)
    assert result.per_report_mah == pytest.approx(expected)
    assert result.per_day_mah == pytest.approx(expected * 24)


def test_last_state_has_zero_length_without_an_end(simple: model.Profile) -> None:
    records = [model.parse_record(r, "x") for r in HAND_TIMELINE]
    assert model.integrate(records, simple).duration_s == 114


def test_reports_are_counted_as_entries_into_tx_unless_given(simple: model.Profile) -> None:
    rows = [("psm", 0), ("tx", 1), ("tx", 2), ("connected", 3), ("tx", 4), ("psm", 5)]
    records = [model.Record(t, s) for s, t in rows]
    assert model.count_reports(records) == 2
    assert model.integrate(records, simple, reports=7).reports == 7


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not JSON"),
        ('{"t": 1, "state": "sleeping", "ce": 0}', "unknown state"),
        ('{"t": "1", "state": "psm", "ce": 0}', "'t' must be"),
        ('{"t": 1, "state": "psm", "ce": 3}', "'ce' must be"),
        ('{"t": 1, "state": "edrx", "ce": 0, "edrx": [10.24, 81.92]}', "'edrx' must be"),
        ('{"t": 1, "state": "edrx", "ce": 0, "edrx": "81.92"}', "'edrx' must be"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_bad_timeline_lines_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"t": 0, "state": "psm", "ce": 0}\n\n' + line + "\n")
    with pytest.raises(model.EnergyError, match=message) as info:
        model.read_timeline(path)
    assert "bad.jsonl:3" in str(info.value)


def test_an_edrx_record_is_charged_for_its_paging_windows_share_of_each_cycle(
    tmp_path: Path,
) -> None:
    profile = model.load_profile("bc28")
    idle, psm = profile.modem_ma("idle", 0), profile.modem_ma("psm", 0)
    rows = [
        {"t": 0, "state": "edrx", "ce": 0, "edrx": [81.92, 10.24]},
        {"t": 3600, "state": "edrx", "ce": 0, "edrx": [2621.44, 10.24]},
        {"t": 7200, "state": "edrx", "ce": 0},  # no cycle said: the profile's own figure
    ]
    records = model.read_timeline(_write_jsonl(tmp_path / "e.jsonl", rows))
    charge = model.integrate(records, profile, end=10800).by_state["edrx"].mah
    mcu_floor = 3 * (profile.mcu_ma("edrx") + profile.floor.ma)
    short = idle * 10.24 / 81.92 + psm  # the profile's 0.053 mA is this very cycle
    assert short == pytest.approx(profile.modem_ma("edrx", 0), rel=0.01)
    expected = short + (idle * 10.24 / 2621.44 + psm) + profile.modem_ma("edrx", 0)
    assert charge == pytest.approx(expected + mcu_floor, rel=1e-9)


def test_time_going_backwards_is_refused(simple: model.Profile) -> None:
    records = [model.Record(10, "psm"), model.Record(5, "tx")]
    with pytest.raises(model.EnergyError, match="backwards"):
        model.integrate(records, simple)
    with pytest.raises(model.EnergyError, match="empty"):
        model.integrate([], simple)


@pytest.mark.parametrize("name", ["bc95", "bc28", "bc660k"])
def test_bundled_profiles_give_every_figure_a_source(name: str) -> None:
    profile = model.load_profile(name)
    figures = dict(profile.figures())
    assert {"psm", "idle", "edrx", "connected", "search", "boot", "off"} <= set(figures)
    assert {"tx ce0", "tx ce1", "tx ce2", "mcu sleep", "mcu active", "board floor"} <= set(figures)
    for item, figure in figures.items():
        assert figure.source.strip(), item
        # an assumption, the project reference, or a publication named with where to find it
        cited = any(
            where in figure.source for where in ("power-and-meters.md", "github.com/", ".com/")
        )
        assert "assumption" in figure.source or cited, item


def test_every_bundled_figure_has_a_source_or_says_assumption() -> None:
    assert model.profile_names() == ["bc28", "bc660k", "bc95", "ec200"]
    # ec200 (Cat1): no sourced current table exists here, so every figure says so
    assert all(f.source.startswith("assumption") for _, f in model.load_profile("ec200").figures())


def test_a_figure_without_a_source_is_refused() -> None:
    data = json.loads(json.dumps(SIMPLE_PROFILE))
    data["modem"]["idle"] = {"ma": 0.4}
    with pytest.raises(model.EnergyError, match="source"):
        model.profile_from_dict(data)
    data["modem"]["idle"] = {"ma": -1, "source": "x"}
    with pytest.raises(model.EnergyError, match=">= 0"):
        model.profile_from_dict(data)
    del data["modem"]["idle"]
    with pytest.raises(model.EnergyError, match="idle"):
        model.profile_from_dict(data)


def test_unknown_profile_and_battery_list_the_known_ones() -> None:
    with pytest.raises(model.EnergyError, match="bc95"):
        model.load_profile("bc99")
    with pytest.raises(model.EnergyError, match="ER26500"):
        battery.get("CR2032")


def test_battery_years_from_capacity_derating_and_self_discharge() -> None:
    cell = battery.get("er26500")
    assert cell.usable_mah == pytest.approx(6800)
    # 1 mAh/day: 365.25 mAh/yr load + 85 mAh/yr self-discharge
    assert cell.years(1.0) == pytest.approx(6800 / (365.25 + 85))
    assert cell.years(0.0) == pytest.approx(6800 / 85)
    with pytest.raises(model.EnergyError):
        cell.years(-1)


def test_battery_presets_grow_with_size() -> None:
    caps = [battery.get(n).capacity_mah for n in ("ER14505", "ER18505", "ER26500", "ER34615")]
    assert caps == sorted(caps) and caps[-1] == 19000


def _states(records: list[model.Record]) -> list[str]:
    return [r.state for r in records]


def test_psm_rai_report_releases_quickly_then_t3324_then_psm() -> None:
    records, end = synth.transaction(synth.Config(mode="a"))
    tm = synth.Timing()
    assert _states(records) == ["connected", "tx", "connected", "idle"]
    assert records[3].t == pytest.approx(tm.rrc_setup_s[0] + tm.tx_s(50, 0) + tm.rai_release_s)
    assert end - records[3].t == pytest.approx(tm.t3324_s)
    cycle, length = synth.cycle(synth.Config(mode="a", reports_per_day=24))
    assert cycle[-1].state == "psm" and length == 3600


def test_psm_without_rai_waits_out_the_inactivity_timer() -> None:
    a, _ = synth.transaction(synth.Config(mode="a"))
    b, _ = synth.transaction(synth.Config(mode="b"))
    assert b[3].t - a[3].t == pytest.approx(20.0 - 1.5)


def test_off_attach_boots_and_searches_every_report() -> None:
    records, _ = synth.transaction(synth.Config(mode="d", ce=2))
    assert _states(records) == ["boot", "search", "tx", "connected"]
    assert records[2].t - records[1].t == 66.0
    assert synth.cycle(synth.Config(mode="d"))[0][-1].state == "off"


def test_no_psm_rests_in_idle_or_edrx() -> None:
    assert synth.cycle(synth.Config(mode="c"))[0][-1].state == "idle"
    assert synth.cycle(synth.Config(mode="c", idle_state="edrx"))[0][-1].state == "edrx"


def test_periodic_tau_wakes_appear_when_the_interval_exceeds_t3412() -> None:
    timing = synth.Timing(t3412_s=3600)
    records, _ = synth.cycle(synth.Config(mode="a", reports_per_day=4, timing=timing))
    assert model.count_reports(records) == 6  # the report + TAUs at 1 h ... 5 h
    records, _ = synth.cycle(synth.Config(mode="a", reports_per_day=4))
    assert model.count_reports(records) == 1  # T3412 70 h: no TAU


def test_impossible_configurations_are_refused() -> None:
    with pytest.raises(model.EnergyError, match="awake"):
        synth.cycle(synth.Config(mode="d", reports_per_day=5000))
    with pytest.raises(model.EnergyError, match="mode"):
        synth.cycle(synth.Config(mode="z"))
    with pytest.raises(model.EnergyError, match="payload"):
        synth.cycle(synth.Config(payload=5000))


def test_model_orders_the_strategies_and_coverage_levels() -> None:
    profile = model.load_profile("bc95")

    def per_report(**kw: Any) -> float:
        return synth.report_charge(synth.Config(**kw), profile).total_mah

    a, b, d = per_report(mode="a"), per_report(mode="b"), per_report(mode="d")
    assert a < b and a < d
    assert per_report(mode="a", ce=0) < per_report(mode="a", ce=1) < per_report(mode="a", ce=2)
    assert per_report(mode="a", expect_reply=True) > a
    assert per_report(mode="a", payload=500) > a
