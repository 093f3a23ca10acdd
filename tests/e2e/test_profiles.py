"""Device profiles end to end on the virtual rig (collector + BC28 emulator + vboard + meter).

The firmware in MicroPython reads an emulated CJ/T 188 gas meter / DL/T 645 electricity meter /
M-Bus heat meter over a pty (`nbkit meterbus`) and the values reach the collector's SQLite
database; the smoke profile's events (alarm, hush, clear, self-test, low battery, tamper,
heartbeat) each arrive as events. Times in assertions are DEVICE (virtual) seconds: rig.uplinks
carry `virtual_t`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from host_tools.rig.rig import EPOCH, Rig, RigOptions


def _readings(rig: Rig) -> list[tuple[str, int]]:
    return [(r["name"], r["value"]) for e in rig.uplinks for r in e["readings"]]


def _db(rig: Rig) -> list[tuple[str, int, str]]:
    with sqlite3.connect(rig.path("collector.db")) as db:
        return list(db.execute("SELECT name, value, unit FROM readings ORDER BY seq"))


def _has(rig: Rig, name: str, value: int | None = None) -> bool:
    return any(n == name and (value is None or v == value) for n, v in _readings(rig))


@pytest.fixture
def rig_for(tmp_path: Path) -> Iterator[Any]:
    started: list[Rig] = []

    def start(**options: Any) -> Rig:
        rig = Rig(tmp_path / "rig", RigOptions(**options))
        started.append(rig)
        return rig.start()

    yield start
    for rig in started:
        codes = rig.stop()
        assert not any(codes.values()), (codes, rig.console_lines[-30:])


def test_cjt188_gas_meter_read_over_the_meter_bus_reaches_the_collector(rig_for: Any) -> None:
    rig = rig_for(
        profile="gas-cjt188",
        read_interval_s=600,
        report_interval_s=1800,
        meterbus_args=["--set", "total=123456"],  # 1234.56 m3
    )
    assert rig.wait_for(lambda: _has(rig, "gas"), 9000), rig.console_lines[-20:]
    assert ("gas", 1234560) in _readings(rig)  # litres
    assert ("valve", 0) in _readings(rig)  # open
    rig.meter({"set": {"total": 123789}, "valve": "closed"})
    assert rig.wait_for(lambda: _has(rig, "gas", 1237890) and _has(rig, "valve", 1), 9000)
    stored = _db(rig)
    assert ("gas", 1234560, "L") in stored and ("gas", 1237890, "L") in stored, stored
    assert "meter" in rig.path("meterbus.stderr").read_text()


def test_dlt645_energy_read_over_the_meter_bus_reaches_the_collector(rig_for: Any) -> None:
    rig = rig_for(
        profile="electricity-dlt645",
        read_interval_s=600,
        report_interval_s=1800,
        meterbus_args=["--set", "forward=1234567", "--set", "reverse=890"],  # 0.01 kWh
    )
    assert rig.wait_for(lambda: _has(rig, "energy_forward"), 9000), rig.console_lines[-20:]
    assert ("energy_forward", 12345670) in _readings(rig)  # Wh
    assert ("energy_reverse", 8900) in _readings(rig)
    assert any(n == "energy" for n, _ in _readings(rig))
    rig.meter({"set": {"forward": 1234600}})
    assert rig.wait_for(lambda: _has(rig, "energy_forward", 12346000), 9000)
    assert ("energy_forward", 12346000, "Wh") in _db(rig)


def test_mbus_heat_meter_read_over_the_meter_bus_reaches_the_collector(rig_for: Any) -> None:
    rig = rig_for(
        profile="heat-mbus",
        read_interval_s=600,
        report_interval_s=1800,
        meterbus_args=["--set", "energy=2345600", "--set", "volume=78901"],  # Wh, L
    )
    assert rig.wait_for(lambda: _has(rig, "energy"), 9000), rig.console_lines[-20:]
    assert ("energy", 2345600) in _readings(rig)  # 2345.6 kWh (0.1 kWh BCD on the bus)
    assert ("water", 78901) in _readings(rig)  # litres
    assert ("temperature", 6512) in _readings(rig)
    assert ("temperature_return", 4230) in _readings(rig)
    rig.meter({"set": {"energy": 2400000, "flow_temp": 7000}})
    assert rig.wait_for(
        lambda: _has(rig, "energy", 2400000) and _has(rig, "temperature", 7000), 9000
    )
    assert ("energy", 2400000, "Wh") in _db(rig)
    log = rig.path("meterbus.stderr").read_text()
    assert "10 7b 05" in log and "10 5b 05" in log, log[-2000:]  # both FCBs: two telegrams


def _timeline_has(rig: Rig, state: str) -> bool:
    path = rig.path("timeline.jsonl")
    return path.exists() and f'"state": "{state}"' in path.read_text()


def _arrival(rig: Rig, name: str) -> float | None:
    for e in rig.uplinks:
        if any(r["name"] == name for r in e["readings"]):
            return float(e["virtual_t"])
    return None


def test_smoke_alarm_raised_in_psm_reaches_the_collector_within_10_s(rig_for: Any) -> None:
    rig = rig_for(profile="smoke")  # the injection at an exact device time
    assert rig.wait_for(lambda: _has(rig, "boot"), 96_000), rig.console_lines[-20:]  # 30 s attach
    rig.run_until(EPOCH + 300)  # well after the boot report (attach 30 s, T3324 10 s)
    assert _timeline_has(rig, "psm"), "the modem never entered PSM"
    injected = rig.virtual_now()
    assert rig.control("set smoke_adc 40000") == "ok"
    assert rig.wait_for(lambda: _arrival(rig, "smoke_alarm") is not None, 28_800)
    latency = (_arrival(rig, "smoke_alarm") or 0) - injected
    assert latency <= 10, latency


def _press(rig: Rig) -> None:
    assert rig.control("set button 0") == "ok"
    assert rig.control("set button 1") == "ok"


def test_smoke_alarm_hush_and_clear_arrive_as_events(rig_for: Any) -> None:
    rig = rig_for(profile="smoke")
    assert rig.wait_for(lambda: _has(rig, "boot") and _has(rig, "battery", 3600), 200)
    rig.control("set smoke_adc 40000")  # deep sleep: the chamber comparator wakes the board
    assert rig.wait_for(lambda: _has(rig, "smoke_alarm"), 160), rig.console_lines[-20:]
    _press(rig)
    assert rig.wait_for(lambda: _has(rig, "smoke_hush", 600), 100)  # 10 min hush
    rig.control("set smoke_adc 8000")
    assert rig.wait_for(lambda: _has(rig, "smoke_clear"), 100)
    names = [n for n, _ in _readings(rig)]
    assert names.index("smoke_alarm") < names.index("smoke_hush") < names.index("smoke_clear")
    assert ("smoke_alarm", 6100, "0.01%/m") in _db(rig)  # 61 % of the chamber's scale


def test_smoke_self_test_low_battery_tamper_and_heartbeat_arrive_as_events(
    rig_for: Any,
) -> None:
    rig = rig_for(profile="smoke", heartbeat_s=120)
    assert rig.wait_for(lambda: _has(rig, "boot"), 200)
    rig.control("set battery_adc 2500")  # the cell sags: seen at the next battery check
    _press(rig)  # self-test (button wakes the board): checks the battery too
    assert rig.wait_for(lambda: _has(rig, "smoke_selftest"), 160), rig.console_lines[-20:]
    assert _has(rig, "smoke_selftest", 2)  # passed, on a low battery
    assert _has(rig, "low_battery", 2500)
    rig.control("set tamper 1")  # taken off its base
    assert rig.wait_for(lambda: _has(rig, "removed", 1), 120)
    rig.control("set tamper 0")
    assert rig.wait_for(lambda: _has(rig, "removed", 0), 120)
    assert rig.wait_for(lambda: _has(rig, "heartbeat"), 200)  # 120 s after power-up
    beat = next(e for e in rig.uplinks if any(r["name"] == "heartbeat" for r in e["readings"]))
    names = {r["name"]: r["value"] for r in beat["readings"]}
    assert names["battery"] == 2500 and "rsrp" in names and names["ce_level"] == 0, names
    assert ("heartbeat", names["heartbeat"], "s") in _db(rig)
