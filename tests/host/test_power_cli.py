"""`nbkit timers`, `nbkit energy` and the `power` bench suite: outputs, JSON, exit codes, plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host_tools.bench import command as bench
from host_tools.bench import power as bench_power
from host_tools.cli import main
from host_tools.energy import model


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_timers_decode_t3412_prints_70_hours(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "timers", "decode", "--t3412", "01000111")
    assert code == 0
    assert out.strip() == "T3412 (periodic TAU): 01000111 = 70 h"


def test_timers_encode_prints_bits_and_the_value_obtained(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "timers", "encode", "--t3324", "45s")
    assert code == 0
    assert out.strip() == "T3324 (active time): 00010111 = 46 s (rounded up from 45 s)"


def test_timers_edrx_and_ptw_with_read_as_values(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "timers", "decode", "--edrx", "0100", "--ptw", "0011")
    assert code == 0
    assert "20.48 s (the network reads it as 0010)" in out
    assert "PTW (paging time window): 0011 = 10.24 s" in out
    code, out, _ = _run(capsys, "timers", "decode", "--edrx", "0000", "--act", "wb")
    assert "0000 = 5.12 s" in out


def test_timers_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "timers", "encode", "--t3412", "70h", "--t3324", "off", "--edrx", "60", "--json"
    )
    assert code == 0
    rows = {r["timer"]: r for r in json.loads(out)}
    assert rows["t3412"] == {
        "timer": "t3412",
        "requested_seconds": 252000.0,
        "bits": "01000111",
        "seconds": 252000,
    }
    assert rows["t3324"]["bits"] == "11100000" and rows["t3324"]["seconds"] is None
    assert rows["edrx"]["bits"] == "0101" and rows["edrx"]["seconds"] == 81.92


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["timers", "encode", "--t3324", "4h"], "exceeds"),
        (["timers", "decode", "--t3412", "0100011"], "8-character"),
        (["timers", "encode", "--t3412", "soon"], "cannot read duration"),
        (["timers", "decode"], "at least one"),
        (["energy", "--battery", "AAA"], "unknown battery"),
        (["energy", "--mode", "x"], "unknown mode"),
        (["energy", "--set", "warp=1"], "NAME=VALUE"),
        (["energy", "--set", "attach_s=1,2"], "three"),
        (["energy", "--reports-per-day", "5000", "--mode", "d"], "awake"),
        (["energy", "--model", "bc660k"], "no energy profile"),
    ],
)
def test_user_errors_exit_1_with_a_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 1
    assert err.startswith("nbkit: ") and message in err, err


def test_energy_for_a_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "energy", "--reports-per-day", "24", "--battery", "ER26500")
    assert code == 0
    assert "(a) PSM + RAI" in out and "years on ER26500" in out


def test_energy_json_is_consistent(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["energy", "--json", "--mode", "b", "--ce", "1", "--reports-per-day", "96"]
    code, out, _ = _run(capsys, *argv)
    data = json.loads(out)
    assert code == 0 and data["mode"] == "psm" and data["ce"] == 1
    assert data["per_day_mah"] == pytest.approx(data["cycle_mah"] * 96)
    day_total = sum(s["mah"] for s in data["per_day_by_state"].values())
    assert day_total == pytest.approx(data["per_day_mah"])
    assert data["timing"]["rrc_inactivity_s"] == 20.0


def test_energy_timing_overrides_change_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    _, base, _ = _run(capsys, "energy", "--json", "--mode", "b")
    _, short, _ = _run(capsys, "energy", "--json", "--mode", "b", "--set", "rrc_inactivity_s=5")
    assert json.loads(short)["report_mah"] < json.loads(base)["report_mah"]


def test_energy_for_a_recorded_timeline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = [
        {"t": 0, "state": "connected", "ce": 0},
        {"t": 2, "state": "tx", "ce": 0},
        {"t": 2.5, "state": "connected", "ce": 0},
        {"t": 4, "state": "idle", "ce": 0},
        {"t": 14, "state": "psm", "ce": 0},
    ]
    path = tmp_path / "states.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, out, _ = _run(capsys, "energy", "--timeline", str(path), "--until", "3600", "--json")
    data = json.loads(out)
    assert code == 0 and data["reports"] == 1 and data["duration_s"] == 3600
    assert data["awake_s"] == 14 and data["years"] > 0
    code, out, _ = _run(capsys, "energy", "--timeline", str(path), "--until", "3600")
    assert "1 reports" in out and "per report" in out
    argv = ["energy", "--timeline", str(path), "--plot", str(tmp_path / "p"), "--json"]
    code, out, _ = _run(capsys, *argv)
    (png,) = json.loads(out)["plots"]
    assert code == 0 and Path(png).read_bytes().startswith(b"\x89PNG")


def test_energy_bad_timeline_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"t": 0, "state": "warp"}\n')
    code, _, err = _run(capsys, "energy", "--timeline", str(path))
    assert code == 1 and "bad.jsonl:1" in err
    code, _, err = _run(capsys, "energy", "--timeline", str(tmp_path / "missing.jsonl"))
    assert code == 1 and "cannot read timeline" in err


def test_energy_profile_lists_every_figure_with_its_source(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "energy", "--profile", "--model", "bc28", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) >= 12
    assert all(r["source"] for r in rows)


def test_energy_plot_writes_two_non_empty_pngs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(capsys, "energy", "--plot", str(tmp_path / "plots"), "--json")
    assert code == 0
    paths = [Path(p) for p in json.loads(out)["plots"]]
    assert {p.name for p in paths} == {"cycle-current.png", "battery-life.png"}
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, p


def test_power_bench_suite_reports_strategies_targets_and_air_commands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from host_tools.energy import bench_defend

    # the floor runs (12 firmware reports against the emulator, ~1 min) have their own test
    monkeypatch.setattr(bench_defend, "run_floor", lambda report: None)
    report = bench.Report(quiet=True)
    report.suite = "power"
    bench_power.run(report)
    figures = {row["name"]: row for row in report.rows}
    assert figures["(a)/(b) charge per report"]["value"] < 1 / 5
    assert figures["target (a) <= 1/5 of (b) per report"]["value"] == "MET"
    assert figures["target (a) <= 1/20 of (d) per report"]["value"] in ("MET", "NOT MET")
    assert figures["AT commands on the air after a PSM wake"]["value"] == 1
    for rate in (1, 24, 96):
        assert figures[f"(a) psm-rai: years on ER26500 at {rate}/day"]["unit"] == "years"
    assert "power" in bench.SUITES
    # issue 18: validation, strategies and floor figures, each a ratio
    names = [n for n in figures if n.startswith(("validation: ", "strategy: ", "floor: "))]
    assert len([n for n in names if n.startswith("validation: ")]) >= 6
    for profile in ("water", "smoke"):
        for ce in (0, 1, 2):
            assert figures[f"strategy: {profile} CE{ce} PSM+RAI"]["value"] == 1.0
            assert figures[f"strategy: {profile} CE{ce} PSM without RAI"]["value"] > 1.0


@pytest.mark.parametrize("transport", ["udp", "coap", "mqtt"])
def test_the_report_path_is_at_its_protocol_floor(transport: str) -> None:
    # the firmware in MicroPython against the emulator: one report, its air commands and its
    # modelled charge against the transport's own minimum (make bench runs every CE level)
    from host_tools.energy import bench_defend

    if transport == "udp":
        res = bench_defend.floor.measure(model.load_profile("bc28"), 2)
        assert res.air == ["AT+NSOSTF"] and res.connections == 1 and res.uplinks == 1
        assert res.ratio <= 1.05
        return
    modem, minimum = bench_defend.floor_links.TRANSPORTS[transport]
    res = bench_defend.floor_links.measure(transport, 1, model.load_profile(modem))
    assert res.air == list(minimum), res.air
    assert res.ratio <= 1.05


@pytest.mark.parametrize("profile", ["water", "smoke"])
def test_the_application_reports_at_the_floor_after_a_psm_wake(profile: str) -> None:
    # the whole application (vboard + emulator + collector) of the meter and the smoke sensor
    from host_tools.energy import floor_app

    res = floor_app.measure(profile, 0, model.load_profile("bc28"))
    assert res.reports >= 1 and res.air == ["AT+NSOSTF"], res
    assert res.ratio <= 1.05
