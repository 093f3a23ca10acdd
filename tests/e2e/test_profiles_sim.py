"""The meter-bus and smoke profiles on the rig's time master (`--clock sim`), end to end.

Every process (collector, modem emulator, virtual board, meter-bus emulator) is a participant:
device time moves only when all of them wait, so a run takes every sample slot, loses nothing,
and two runs store the same collector rows to the microsecond, however busy the host is. Times
are DEVICE seconds; no test sleeps on the wall clock.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from host_tools.rig.profiles import grow_meter, play_smoke, smoke_summary
from host_tools.rig.rig import EPOCH, Rig, RigOptions

READ_S = 600  # a sample slot every 10 device minutes
REPORT_S = 1800
HOURS = 1  # the last slot is also a report
#: readings a meter gives at every slot (what the profile's adapter reads from the bus)
PER_SLOT = {"gas-cjt188": 2, "electricity-dlt645": 3, "heat-mbus": 4}

Row = tuple[int, int, int, int, int, float]


def _rows(rig: Rig) -> list[Row]:
    with sqlite3.connect(rig.path("collector.db")) as db:
        return list(
            db.execute("SELECT device, seq, t, code, value, received FROM readings ORDER BY seq")
        )


def _taken(rig: Rig) -> list[int]:
    return [int(ln.split()[2]) for ln in rig.console_lines if ln.startswith("nbkit: read ")]


def _run_meter(
    workdir: Path, profile: str, modem: str = "bc28"
) -> tuple[list[Row], list[int], str]:
    """One run: the meter's registers grow every 5 device minutes (as in `nbkit demo`)."""
    rig = Rig(
        workdir,
        RigOptions(
            clock="sim",
            profile=profile,
            modem=modem,
            read_interval_s=READ_S,
            report_interval_s=REPORT_S,
        ),
    )
    try:
        rig.start()
        end = EPOCH + HOURS * 3600 + 300  # the report due at the last slot has arrived by then
        for t in range(int(EPOCH), int(end), 300):
            rig.run_until(t)
            grow_meter(rig, 20)
        rig.run_until(end)
    finally:
        codes = rig.stop()
    assert not any(codes.values()), (codes, rig.console_lines[-20:])
    return _rows(rig), _taken(rig), rig.path("meterbus.stderr").read_text()


@pytest.mark.parametrize("profile", sorted(PER_SLOT))
def test_meter_profile_takes_every_slot_loses_nothing_and_repeats_exactly(
    tmp_path: Path, profile: str
) -> None:
    rows, taken, bus_log = _run_meter(tmp_path / "a", profile)
    slots = int(HOURS * 3600 // READ_S)
    assert len(taken) == slots * PER_SLOT[profile], taken  # every sample slot, no more
    stored = {seq for _, seq, _, code, _, _ in rows if code < 0x40}
    assert set(taken) <= stored  # 0 lost: every reading taken reached the collector
    assert len(rows) == len({seq for _, seq, *_ in rows})  # no duplicate row
    assert "->" in bus_log  # requests were answered over the emulated bus
    again, taken_again, _ = _run_meter(tmp_path / "b", profile)
    assert again == rows  # same rows, device times and arrival times included
    assert taken_again == taken


@pytest.mark.parametrize("modem", ["bc660k", "ec200"])
def test_a_meter_profile_over_the_quectel_socket_modems_loses_nothing(
    tmp_path: Path, modem: str
) -> None:
    """BC660K and EC200 open their UDP socket with AT+QIOPEN: its datagrams are counted too."""
    rows, taken, _ = _run_meter(tmp_path / "a", "electricity-dlt645", modem)
    assert len(taken) == int(HOURS * 3600 // READ_S) * PER_SLOT["electricity-dlt645"]
    assert set(taken) <= {seq for _, seq, *_ in rows}
    # Not compared to the µs here (issue 13, open): one fresh-clone run of 2 saw a board hard
    # reset (the app's last resort) at ~1 device hour over BC660K that the other did not. The
    # water, meter-bus and smoke runs are compared exactly (test_sim_clock, above).
    rows_b, taken_b, _ = _run_meter(tmp_path / "b", "electricity-dlt645", modem)
    assert len(taken_b) == len(taken) and set(taken_b) <= {seq for _, seq, *_ in rows_b}


def test_meter_reply_costs_bit_time_and_the_standards_answer_delay(tmp_path: Path) -> None:
    """A DL/T 645 read on the wire: request bytes, then Td = 500 ms (the slowest the standard
    allows), then the reply's bytes at 2400 8E1; the firmware sees it on the 700 us phase."""
    from host_tools.meterbus.line import Line, slot

    line = Line(2400, "even", 0.5)
    t0 = 1_764_000_900_200_000
    end_of_request = line.carry(t0, 20)  # 4 FE + a 16-byte request
    assert end_of_request - t0 == 20 * 11 * 1_000_000 // 2400  # 91.666 ms
    answer = line.answer_at(t0)
    assert answer == slot(end_of_request + 500_000, t0) and answer % 1000 == 700
    landed = slot(line.carry(answer, 26), answer)
    assert landed % 1000 == 700 and landed > answer + 26 * 11 * 1_000_000 // 2400


def _run_smoke(workdir: Path) -> tuple[list[Row], dict[str, Any], dict[str, float]]:
    rig = Rig(workdir, RigOptions(clock="sim", profile="smoke", heartbeat_s=1440))
    injected: dict[str, float] = {}
    try:
        rig.start()
        play_smoke(rig, argparse.Namespace(hours=0.5, json=True), injected)
    finally:
        codes = rig.stop()
    assert not any(codes.values()), (codes, rig.console_lines[-20:])
    return _rows(rig), smoke_summary(rig, injected), injected


def test_smoke_script_on_the_sim_clock_delivers_every_event_and_repeats_exactly(
    tmp_path: Path,
) -> None:
    rows, summary, injected = _run_smoke(tmp_path / "a")
    assert summary["missing_events"] == [], summary  # every one of SMOKE_EVENTS arrived
    assert 0 < summary["alarm_latency_s"] <= 10, summary  # the alarm goes at once
    smoke_at = injected["smoke enters the chamber"]
    assert smoke_at - EPOCH == pytest.approx(180, abs=0.001)  # injected at its exact time
    assert len(rows) == len({seq for _, seq, *_ in rows})
    again, summary_again, _ = _run_smoke(tmp_path / "b")
    assert again == rows
    assert summary_again == summary
