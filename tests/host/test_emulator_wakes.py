"""Every wake is charged: UART bytes wake a module asleep in PSM, and the timeline says so.

Issue 15 item 7: a persistent ``+CME ERROR: 4`` on every ``AT+NSOSTF`` used to leave the modem
"in PSM throughout" on the timeline, so a day of retries came out cheaper than a clean day. Now
each wake the DTE causes is an ``awake`` record (with the waking command as ``cause``) and the
energy model charges it.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_tools.emulator.client import SimPtyClient
from host_tools.emulator.response_times import timing_for
from host_tools.emulator.server import Emulator
from host_tools.energy import model
from tests.host.emulator_support import Stepped, options, sim_modem, stepped

CME4_ON_SEND = [{"kind": "error", "match": "AT+NSOSTF=", "times": 100000, "cme": 4}]
PSM_REQUEST = 'AT+CPSMS=1,,,"01000111","00000001"'  # T3412 70 h, T3324 2 s


@pytest.fixture
def collector() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    yield sock
    sock.close()


def _send_line(port: int) -> str:
    return f"AT+NSOSTF=0,127.0.0.1,{port},0x200,4,CAFEF00D"


def _asleep_in_psm(rig: Stepped) -> None:
    """Configure, request PSM, open the socket, then let the module fall asleep."""
    for line in ("AT+CMEE=1", PSM_REQUEST, "AT+NSOCR=DGRAM,17,0,1"):
        assert rig.command(line)[0].endswith(b"OK\r\n")
    rig.advance(60.0)  # TAU with the request, RRC release after 20 s, T3324 2 s
    assert rig.emu.timeline.state == "psm"


def test_each_command_from_the_dte_wakes_a_module_in_psm_and_the_timeline_shows_it(collector):
    faults = CME4_ON_SEND
    with stepped(faults=faults) as rig:
        _asleep_in_psm(rig)
        before = rig.emu.timeline.wakes
        for _ in range(3):
            answer, _ = rig.command(_send_line(collector.getsockname()[1]))
            assert answer.endswith(b"+CME ERROR: 4\r\n")
            rig.advance(60.0)
        timeline = rig.emu.timeline
        assert timeline.wakes - before == 3
        line = _send_line(collector.getsockname()[1])
        assert [cause for _t, cause in timeline.causes[-3:]] == [line[:40]] * 3
        # psm -> awake -> psm around each retry; the network never saw an uplink
        states = [state for _t, state, _ce in timeline.entries[-6:]]
        assert states == ["awake", "psm"] * 3
        awake = [
            timeline.entries[i + 1][0] - t
            for i, (t, state, _ce) in enumerate(timeline.entries[:-1])
            if state == "awake"
        ][-3:]
        hold = timing_for("bc28").wake_hold.seconds
        # awake from the first byte to the end of the answer plus the hold: ~1.1 s each
        assert all(hold < s < hold + 0.2 for s in awake), awake


def test_the_timeline_file_of_a_faulty_run_over_the_pty_shows_every_wake(tmp_path: Path):
    # the emulator in a thread on a time master, driven over its pty like a firmware
    path = tmp_path / "timeline.jsonl"
    opts = options(rrc_inactivity=1.0)
    with (
        path.open("w") as stream,
        sim_modem(faults=CME4_ON_SEND, opts=opts, timeline_stream=stream) as (emu, port),
    ):
        for line in ("AT+CMEE=1", PSM_REQUEST, "AT+NSOCR=DGRAM,17,0,1"):
            assert port.command(line).endswith(b"OK\r\n")
        _wait_state(port, emu, "psm")
        for _ in range(3):
            assert port.command(_send_line(9)).endswith(b"+CME ERROR: 4\r\n")
            _wait_state(port, emu, "psm")
        wakes = emu.timeline.wakes
    records = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    woken = [r for r in records if r["state"] == "awake"]
    assert wakes == 3 and len(woken) == wakes  # the DTE's three sends (device time: exact)
    assert [r["cause"] for r in woken[-3:]] == [_send_line(9)[:40]] * 3
    timeline = model.read_timeline(path)
    assert model.count_wakes(timeline) == wakes
    assert model.integrate(timeline, model.load_profile("bc28")).by_state["awake"].seconds > 3.0


def _wait_state(port: SimPtyClient, emu: Emulator, state: str, timeout: float = 60.0) -> None:
    """Let device time pass (a tenth of a second at a time) until the timeline is in ``state``."""
    deadline = port.now() + timeout
    while emu.timeline.state != state:
        assert port.now() < deadline, f"modem not in {state} (in {emu.timeline.state})"
        port.idle(0.1)


def _day(collector: socket.socket, faulty: bool) -> model.Result:
    """One device day of a meter reporting every 4 h, as today's firmware does it: on a
    failed send it wakes the modem again 60 s later (issue 15), until the next report."""
    stream = io.StringIO()
    faults = CME4_ON_SEND if faulty else None
    with stepped(faults=faults, timeline_stream=stream) as rig:
        _asleep_in_psm(rig)
        start = rig.now
        for report in range(6):
            due = start + report * 4 * 3600
            rig.advance_to(due)
            while rig.now < due + 4 * 3600 - 60:
                answer, _ = rig.command(_send_line(collector.getsockname()[1]))
                if answer.endswith(b"OK\r\n"):
                    break
                rig.advance(60.0)
        rig.advance_to(start + 24 * 3600)
        end = rig.now
    records = [
        model.parse_record(json.loads(line), "timeline")
        for line in stream.getvalue().splitlines()[1:]
    ]
    # from the PSM the day starts in (its record is a minute before the start) to the end
    first = max(i for i, r in enumerate(records) if r.t < start - 1e-3)
    return model.integrate(records[first:], model.load_profile("bc28"), end=end)


def test_a_retry_storm_costs_more_than_a_clean_day(collector):
    clean = _day(collector, faulty=False)
    storm = _day(collector, faulty=True)
    assert clean.reports == 6 and storm.reports == 0
    assert clean.wakes == 6  # one UART wake per report
    assert storm.wakes > 1400  # every 60 s for the whole day
    # a day of retries costs the battery more than a day of reports: before the wakes were
    # recorded the storm showed PSM throughout and came out cheaper
    assert storm.per_day_mah > clean.per_day_mah
    assert storm.by_state["awake"].mah > 10 * clean.by_state["awake"].mah


def test_the_energy_model_counts_wakes_from_sleep_only():
    rec = model.Record
    records = [
        rec(0, "psm"),
        rec(10, "awake"),
        rec(11, "psm"),
        rec(20, "awake"),
        rec(20.1, "connected"),  # the wake that sent: still one wake
        rec(25, "idle"),
        rec(30, "psm"),
        rec(40, "off"),
        rec(50, "awake"),
        rec(51, "off"),
    ]
    assert model.count_wakes(records) == 3
    result = model.integrate(records, model.load_profile("bc28"), end=60)
    assert result.wakes == 3 and result.by_state["awake"].seconds == pytest.approx(2.1)


def test_a_profile_without_an_awake_figure_charges_it_as_idle():
    data = json.loads(Path(model.PROFILE_DIR / "bc28.json").read_text())
    del data["modem"]["awake"]
    profile = model.profile_from_dict(data)
    assert profile.modem_ma("awake", 0) == profile.modem_ma("idle", 0)
