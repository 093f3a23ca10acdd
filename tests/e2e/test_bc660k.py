"""The Quectel BC660K-GL end to end: the firmware's bc660k driver in MicroPython against the
bc660k emulator persona (real UDP/TCP sockets, MQTT through a real broker) and the real
collector, and the virtual board
`unix_sim_bc660k` running the water meter over UDP (what `make demo MODEM=bc660k` runs)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from host_tools.rig.rig import BOARD_FOR_MODEM, Rig, RigOptions
from tests.e2e.test_transports_firmware import DEVICE, meter, report

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("transport", ["udp", "tcp", "mqtt"])
def test_the_driver_delivers_every_reading_exactly_once(tmp_path: Path, transport: str) -> None:
    # the driver, the module and the collector on one time master; MQTT through the real
    # broker over the default bearer
    with meter(tmp_path, "bc660k", transport) as (rig, col):
        report(rig, "bc660k", transport, tmp_path, 5)
        assert col.seqs(DEVICE) == [0, 1, 2, 3, 4]


def test_the_virtual_bc660k_board_reports_water_readings_over_udp(tmp_path: Path) -> None:
    assert BOARD_FOR_MODEM["bc660k"] == "unix_sim_bc660k"
    rig = Rig(tmp_path / "rig", RigOptions(modem="bc660k")).start()
    try:
        ok = rig.wait_for(lambda: len(rig.uplinks) >= 2, 144_000)
        assert ok, rig.console_lines[-30:]
    finally:
        codes = rig.stop()
    assert not any(codes.values()), (codes, rig.console_lines[-30:])
    with sqlite3.connect(rig.path("collector.db")) as db:
        names = {name for (name,) in db.execute("SELECT name FROM readings")}
    assert "water" in names and "boot" in names, names
