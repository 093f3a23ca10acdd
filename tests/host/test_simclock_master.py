"""The rig's time master: time moves only when every participant waits and nothing is in
flight, to the earliest deadline; deadlocks and stalls end the run loudly."""

from __future__ import annotations

import select
import time

import pytest

from host_tools.simclock.client import SimClient, SimFailed
from host_tools.simclock.master import Master

EPOCH = 1_764_000_000.0


@pytest.fixture
def master():
    m = Master(EPOCH, stall_s=0.3).start()
    yield m
    m.stop()


def _settle(*clients: SimClient, until: float = 2.0) -> None:
    """Read the master's messages for a while (wall), as participants' loops do."""
    end = time.monotonic() + until
    while time.monotonic() < end:
        ready, _, _ = select.select(list(clients), [], [], 0.02)
        for c in ready:
            c.on_readable()


def test_time_jumps_to_the_earliest_deadline_once_everyone_waits(master):
    a, b = SimClient(master.addr, "a"), SimClient(master.addr, "b")
    a.report(EPOCH + 5)
    _settle(a, b, until=0.2)
    assert a.now() == EPOCH  # b has not reported: it may still be working
    b.report(EPOCH + 3)
    _settle(a, b, until=0.3)
    assert b.now() == pytest.approx(EPOCH + 3, abs=1e-5)
    # a waits until 5: it is not told (its report stands); input makes it ask the time
    assert a.now() == EPOCH
    assert a.go() is True and a.now() == pytest.approx(EPOCH + 3, abs=1e-5)


def test_an_advance_tells_only_the_participants_whose_deadline_it_is(master):
    parts = [SimClient(master.addr, f"p{i}") for i in range(5)]
    watcher = SimClient(master.addr, "watcher")
    told = master.told  # (each hello was answered before its client was made)
    for i, p in enumerate(parts):
        p.report(EPOCH + 1 + i)
    watcher.report(EPOCH + 10, eager=True)  # the rig while it waits for something: every step
    _settle(*parts, watcher, until=0.3)
    assert parts[0].now() == pytest.approx(EPOCH + 1, abs=1e-5)
    assert [p.now() for p in parts[1:]] == [EPOCH] * 4
    assert watcher.now() == pytest.approx(EPOCH + 1, abs=1e-5)
    assert master.told - told == 2  # p0 and the watcher
    parts[0].report(EPOCH + 7)  # p0 done: the next deadline is p1's
    watcher.report(EPOCH + 10, eager=True)  # (told, it went: it reports again)
    _settle(*parts, watcher, until=0.3)
    assert parts[1].now() == pytest.approx(EPOCH + 2, abs=1e-5)
    assert parts[0].now() == pytest.approx(EPOCH + 1, abs=1e-5)  # not told: it waits for 7
    assert watcher.now() == pytest.approx(EPOCH + 2, abs=1e-5)


def test_nothing_moves_while_a_byte_is_in_flight(master):
    sender, receiver = SimClient(master.addr, "s"), SimClient(master.addr, "r")
    receiver.received("uart.dn", 0)  # declared: bytes sent on uart.dn are awaited
    sender.sent("uart.dn", 6)
    sender.report(EPOCH + 1)
    receiver.report(EPOCH + 2)
    _settle(sender, receiver, until=0.2)
    assert sender.now() == EPOCH
    receiver.received("uart.dn", 6)
    receiver.report(EPOCH + 2)
    _settle(sender, receiver, until=0.3)
    assert sender.now() == pytest.approx(EPOCH + 1, abs=1e-5)


def test_what_is_sent_where_nobody_listens_does_not_hold_time(master):
    sender = SimClient(master.addr, "s")
    sender.sent("udp.9", 1)  # no participant declared udp.9<: a datagram to a closed port
    sender.report(EPOCH + 1)
    _settle(sender, until=0.3)
    assert sender.now() == pytest.approx(EPOCH + 1, abs=1e-5)


def test_a_participant_being_started_holds_time(master):
    host = SimClient(master.addr, "host")
    host.join("child")
    host.report(EPOCH + 1)
    _settle(host, until=0.3)
    assert host.now() == EPOCH
    child = SimClient(master.addr, "child")
    child.report(None)
    _settle(host, child, until=0.3)
    assert host.now() == pytest.approx(EPOCH + 1, abs=1e-5)


def test_the_sender_of_a_bye_is_busy_until_it_reports_again(master):
    host = SimClient(master.addr, "host")
    host.report(EPOCH + 1)
    _settle(host, until=0.3)
    assert host.gen == 1
    host.join("child")  # busy: what it is doing is not finished
    child = SimClient(master.addr, "child")
    child.report(EPOCH + 5)
    host.bye("child")
    _settle(host, child, until=0.3)
    assert host.now() == pytest.approx(EPOCH + 1, abs=1e-5)  # held: host has not reported
    host.report(EPOCH + 2)
    _settle(host, until=0.3)
    assert host.now() == pytest.approx(EPOCH + 2, abs=1e-5)


def test_a_driver_in_the_process_waits_until_its_peers_have_acted_at_the_instant(master):
    """wait_settled: the driver holds time (busy) and waits until every other participant is
    idle at this generation with nothing in flight but what the driver itself reads; then it
    may look at what they recorded at this instant."""
    driver, modem = SimClient(master.addr, "driver"), SimClient(master.addr, "modem")
    driver.received("m0.uart.dn", 0)
    driver.report(EPOCH + 5)  # its receiving side declared at the master...
    driver.go()  # ...then input: it is busy from here on (it asks the time: still EPOCH)
    assert not master.wait_settled("driver", timeout=0.2)  # the modem has not reported
    modem.sent("m0.uart.dn", 4)  # a URC to the sleeping MCU: the driver drains it
    modem.report(EPOCH + 1)
    assert master.wait_settled("driver", reads=("m0.uart.dn",), timeout=2.0)
    assert not master.wait_settled("driver", timeout=0.2)  # else it counts as in flight
    assert driver.now() == EPOCH  # time held: the driver never reported


def test_a_deadlock_ends_the_run_and_says_so(master):
    a = SimClient(master.addr, "a")
    a.report(None)
    with pytest.raises(SimFailed, match="deadlock"):
        _settle(a, until=1.0)
    assert "deadlock" in (master.failure or "")


def test_a_channel_that_never_balances_is_a_stall_naming_it(master):
    a, b = SimClient(master.addr, "a"), SimClient(master.addr, "b")
    b.received("m0.uart.dn", 0)
    a.sent("m0.uart.dn", 6)
    a.report(EPOCH + 1)
    b.report(EPOCH + 1)
    with pytest.raises(SimFailed, match=r"m0\.uart\.dn \(\+6\)"):
        _settle(a, b, until=2.0)


def test_stale_reports_from_an_older_generation_are_ignored(master):
    a = SimClient(master.addr, "a")
    a.report(EPOCH + 1)
    _settle(a, until=0.3)
    assert a.gen == 1
    a.gen = 0  # as if it had not seen the advance
    a.report(EPOCH + 2)
    _settle(a, until=0.3)
    assert a.now() == pytest.approx(EPOCH + 1, abs=1e-5)


def test_a_paced_participant_lets_time_run_no_faster_than_its_rate(master):
    """A rig driven from outside in wall time (the HIL suite's virtual target) waits paced at
    N device seconds per wall second: time runs on with no deadline at all, never ahead of
    N x the wall time since pacing began, and stops at the next deadline, where its owner is
    told (the slowest paced participant sets the rate)."""
    rig, board = SimClient(master.addr, "rig"), SimClient(master.addr, "board")
    board.report(EPOCH + 30)
    start = time.monotonic()
    rig.report(None, paced=100.0)
    _settle(rig, board, until=0.1)
    moved = master.t_us / 1e6 - EPOCH
    assert 0 < moved <= 100 * (time.monotonic() - start) + 0.001, moved
    assert rig.now() == EPOCH  # no deadline: never told, its report stands
    _settle(rig, board, until=0.35)  # 100 x 0.45 s passes 30 s: the board's deadline is met
    assert board.now() == pytest.approx(EPOCH + 30, abs=1e-5)
    board.report(EPOCH + 3600, paced=True)  # someone at the board's console: wall speed
    before, start = master.t_us, time.monotonic()
    _settle(rig, board, until=0.2)
    assert 0 < master.t_us - before <= (time.monotonic() - start) * 1e6 + 1000
