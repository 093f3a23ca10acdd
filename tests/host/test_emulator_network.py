"""The network model on virtual time: RRC release, T3324 -> PSM, denied/substituted timers,
coverage loss, paging, CE level. On a time master (device time moves only while the DTE waits)
or stepped by hand: every timing is exact and no host load can change what the DTE sees."""

from __future__ import annotations

import io
import json

import pytest
from emulator_support import SimPeer, options, sim_modem, stepped, wait_registered

from host_tools.emulator.network import tx_seconds
from tests.support.simdte import EPOCH

OK = b"\r\nOK\r\n"


def _setup(port, cpsms='1,,,"00100001","00000101"', cereg=4):
    assert port.command("AT+CFUN=0", 5) == OK  # a 2 s modelled detach (response_times.py)
    assert port.command(f"AT+CPSMS={cpsms}") == OK
    assert port.command(f"AT+CEREG={cereg};+CSCON=1;+NPSMR=1") == OK
    port.read_until(OK + OK)
    port.command("AT+CFUN=1", 5)
    wait_registered(port)
    # a URC due meanwhile may come before the answer: only its end is exact
    assert port.command("AT+NSOCR=DGRAM,17,0,1").endswith(b"\r\n0\r\n" + OK)


def _states(emu):
    return [(t, s) for t, s, _ in emu.timeline.entries]


def test_release_flag_0x200_then_t3324_then_psm():
    with sim_modem() as (emu, port):
        _setup(port)
        port.read_until(b"+NPSMR:1\r\n", timeout=60)  # after the attach: inactivity + T3324
        assert port.command("AT+NSOSTF=0,127.0.0.1,9,0x200,1,FF").endswith(b"\r\n0,1\r\n" + OK)
        got = port.read_until(b"+NPSMR:1\r\n", timeout=60)
        assert got == b"\r\n+NPSMR:0\r\n\r\n+CSCON:1\r\n\r\n+CSCON:0\r\n\r\n+NPSMR:1\r\n"
        (t_tx, tx), (t_conn, conn), (t_idle, idle), (t_psm, psm) = _states(emu)[-4:]
        assert (tx, conn, idle, psm) == ("tx", "connected", "idle", "psm")
        assert t_conn - t_tx == pytest.approx(tx_seconds(1, 0), abs=1e-5)
        assert t_idle - t_conn == pytest.approx(1.5, abs=1e-5)  # release assistance, not 20 s
        assert t_psm - t_idle == pytest.approx(10.0, abs=1e-5)  # granted T3324 = 00000101 = 10 s


def test_without_release_flag_the_rrc_inactivity_timer_releases():
    with sim_modem(rrc_inactivity=20.0) as (emu, port):
        _setup(port)
        port.read_until(b"+NPSMR:1\r\n", timeout=60)
        port.command("AT+NSOST=0,127.0.0.1,9,1,FF")
        port.read_until(b"+NPSMR:1\r\n", timeout=60)
        (t_conn, _), (t_idle, idle) = _states(emu)[-3:-1]
        assert idle == "idle" and t_idle - t_conn == pytest.approx(20.0, abs=1e-5)


def test_network_may_grant_other_timers_visible_in_cereg_4():
    with sim_modem(nw_active="00000001", nw_tau="00000110") as (emu, port):
        _setup(port)
        assert port.command("AT+CEREG?").endswith(
            b"\r\n+CEREG:4,1,5F1E,0153803F,9,,,00000001,00000110\r\n" + OK
        )
        assert port.command("AT+CPSMS?").endswith(b"\r\n+CPSMS:1,,,00100001,00000101\r\n" + OK)
        port.read_until(b"+NPSMR:1\r\n", timeout=60)
        (t_idle, idle), (t_psm, psm) = _states(emu)[-2:]
        assert (idle, psm) == ("idle", "psm") and t_psm - t_idle == pytest.approx(2.0, abs=1e-5)


def test_denied_psm_stays_in_idle_drx_and_reports_no_timers():
    with sim_modem(deny_psm=True) as (emu, port):
        _setup(port)
        assert port.command("AT+CEREG?").endswith(b"\r\n+CEREG:4,1,5F1E,0153803F,9\r\n" + OK)
        port.command("AT+NSOSTF=0,127.0.0.1,9,0x200,1,FF")
        got = port.read_until(b"+CSCON:0\r\n", timeout=60)
        got += port.idle(100)  # far past any T3324
        assert b"+NPSMR" not in got
        assert _states(emu)[-1][1] == "idle"


def test_edrx_granted_makes_idle_edrx_and_paging_waits_for_the_cycle():
    with sim_modem(deny_psm=True) as (emu, port):
        assert port.command('AT+CEDRXS=1,5,"0010"') == OK  # 20.48 s
        _setup(port)
        port.read_until(b"+CSCON:0\r\n", timeout=60)
        assert _states(emu)[-1][1] == "edrx"
        t_idle = _states(emu)[-1][0]
        with SimPeer(port.master) as peer:
            peer.sendto(b"\x05", emu.modem.socks.get(0).port)
            port.read_until(b"+NSONMI:0,1\r\n", timeout=60)
        t_paged = next(t for t, s in _states(emu) if t > t_idle and s == "connected")
        phase = (t_paged - t_idle) % 20.48  # paged at a multiple of the eDRX cycle
        assert min(phase, 20.48 - phase) < 1e-5


def test_downlink_while_in_psm_is_dropped():
    with sim_modem() as (emu, port):
        _setup(port)
        port.read_until(b"+NPSMR:1\r\n", timeout=60)
        with SimPeer(port.master) as peer:
            peer.sendto(b"\x05", emu.modem.socks.get(0).port)
            assert b"NSONMI" not in port.idle(100)
        assert emu.modem.net.dropped_downlink == 1


def test_coverage_loss_reports_searching_fails_sends_then_registers_again():
    # PSM off: the UE is awake (idle) when the hole comes (in PSM it would sleep through it)
    faults = [{"kind": "coverage_loss", "at": 50.0, "duration": 30.0}]
    with sim_modem(faults=faults) as (emu, port):
        _setup(port, cpsms="0", cereg=2)
        assert port.command("AT+CMEE=1") == OK
        port.read_until(b"+CEREG:2,0000,00000000,9\r\n", timeout=60)
        assert port.command("AT+NSOST=0,127.0.0.1,9,1,FF").endswith(b"\r\n+CME ERROR: 30\r\n")
        port.read_until(b"+CEREG:1,5F1E,0153803F,9\r\n", timeout=60)
        assert port.command("AT+NSOST=0,127.0.0.1,9,1,FF").endswith(b"\r\n0,1\r\n" + OK)
        assert "search" in [s for t, s in _states(emu) if t > EPOCH + 49]


def _asleep_in_psm(rig) -> None:
    # registered, PSM requested (T3324 10 s), a socket: in PSM well before 100 s
    for line in ('AT+CPSMS=1,,,"00100001","00000101"', "AT+CEREG=4", "AT+NSOCR=DGRAM,17,0,1"):
        rig.command(line)
    rig.advance_to(rig.now + 90)
    assert rig.emu.modem.net.psm, "not in PSM yet"


def test_a_ue_asleep_in_psm_meets_a_coverage_hole_only_when_it_wakes_to_send():
    # In PSM the radio is off: the hole costs nothing until the UE wakes. Then the datagram it
    # was given is lost on the air (the send was accepted), it reports searching and searches.
    with stepped(faults=[{"kind": "coverage_loss", "at": 100.0, "duration": 400.0}]) as rig:
        start = rig.now
        _asleep_in_psm(rig)
        rig.advance_to(start + 150)
        net = rig.emu.modem.net
        assert net.unmet_loss == 2 and net.psm
        assert rig.command("AT+CEREG?")[0].startswith(b"\r\n+CEREG:4,1,")  # registered
        assert "search" not in [s for t, s in _states(rig.emu) if t >= start + 100]
        sent, _ = rig.command("AT+NSOST=0,127.0.0.1,9,1,FF")  # accepted: the module queued it
        assert sent.startswith(b"\r\n0,1\r\n") and b"+CEREG:2" in sent, sent
        assert net.dropped_uplink == 1 and _states(rig.emu)[-1][1] == "search"
        rig.advance_to(start + 600)
        assert b"+CEREG:1" in rig.read()  # the hole closed: registered again


def test_a_hole_that_closes_while_the_ue_sleeps_is_never_seen():
    with stepped(faults=[{"kind": "coverage_loss", "at": 100.0, "duration": 50.0}]) as rig:
        start = rig.now
        _asleep_in_psm(rig)
        rig.advance_to(start + 200)
        net = rig.emu.modem.net
        assert net.unmet_loss is None and not net.lost
        sent, _ = rig.command("AT+NSOST=0,127.0.0.1,9,1,FF")
        assert sent.endswith(b"\r\n0,1\r\n" + OK) and net.dropped_uplink == 0, sent
        assert "search" not in [s for t, s in _states(rig.emu) if t >= start + 100]


def test_back_to_back_uplinks_beyond_the_queue_get_cme_159():
    with sim_modem(ce=2) as (emu, port):
        wait_registered(port)
        port.command("AT+CMEE=1")
        port.command("AT+NSOCR=DGRAM,17,0,1")
        answers = [port.command("AT+NSOST=0,127.0.0.1,9,1,FF") for _ in range(5)]
        assert answers[:4] == [b"\r\n0,1\r\n" + OK] * 4
        assert answers[4] == b"\r\n+CME ERROR: 159\r\n"
        urgent = port.command("AT+NSOSTF=0,127.0.0.1,9,0x100,1,EE")
        assert urgent == b"\r\n0,1\r\n" + OK  # exception data is never turned away
        assert [u.flag for u in emu.modem.net.tx_queue][:2] == [0, 0x100]


def test_tx_duration_grows_with_payload_and_ce_level():
    assert tx_seconds(500, 0) > tx_seconds(10, 0)
    assert tx_seconds(10, 2) > 10 * tx_seconds(10, 0)  # repetitions (shared timing model)
    with sim_modem(ce=1) as (emu, port):
        wait_registered(port)
        port.command("AT+NSOCR=DGRAM,17,0,1")
        port.command(f"AT+NSOST=0,127.0.0.1,9,100,{'00' * 100}")
        port.idle(50)
        entries = emu.timeline.entries
        i = max(i for i, e in enumerate(entries) if e[1] == "tx")
        assert entries[i][2] == 1
        assert entries[i + 1][0] - entries[i][0] == pytest.approx(tx_seconds(100, 1), abs=1e-5)


def test_periodic_tau_wakes_from_psm_briefly():
    with sim_modem() as (emu, port):
        _setup(port, cpsms='1,,,"01100101","00000001"')  # TAU 10 s, active 2 s
        port.read_until(b"+NPSMR:1\r\n", timeout=60)
        got = port.read_until(b"+NPSMR:1\r\n", timeout=60)
        assert got == b"\r\n+NPSMR:0\r\n\r\n+CSCON:1\r\n\r\n+CSCON:0\r\n\r\n+NPSMR:1\r\n"
        t_psm = [t for t, s in _states(emu) if s == "psm"]
        assert t_psm[-1] - t_psm[-2] >= 10.0


def test_a_reboot_does_not_end_a_coverage_hole():
    faults = [{"kind": "coverage_loss", "at": 0.0, "duration": 60.0}]
    with sim_modem(faults=faults) as (_emu, port):
        assert port.command("AT+CEREG?") == b"\r\n+CEREG:0,2\r\n" + OK
        port.write(b"AT+NRB\r")
        port.read_until(b"Neul\r\nOK\r\n")
        assert port.command("AT+CEREG?") == b"\r\n+CEREG:0,2\r\n" + OK  # still searching
        wait_registered(port, timeout=90)  # the hole closes after 60 device s


def test_csq_reports_the_cell_once_camped_before_the_attach_ends_and_99_in_a_hole():
    # the search's first camp_s (5 s at CE0) finds and camps on the cell; the attach takes
    # 30 s in all: AT+CSQ has the RSSI from the camp on, AT+CEREG? says searching until the end
    hole = [{"kind": "coverage_loss", "at": 0.0, "duration": 200.0}]
    with stepped(options(reg_delay=None), faults=hole) as rig:  # the timing model's attach
        start = rig.now
        rig.advance_to(start + 100)
        assert rig.command("AT+CSQ")[0] == b"\r\n+CSQ:99,99\r\n" + OK  # no cell: a hole
        rig.advance_to(start + 203)
        assert rig.command("AT+CSQ")[0] == b"\r\n+CSQ:99,99\r\n" + OK  # back, not camped yet
        rig.advance_to(start + 206)
        assert rig.command("AT+CSQ")[0] == b"\r\n+CSQ:22,99\r\n" + OK  # camped
        assert rig.command("AT+CEREG?")[0] == b"\r\n+CEREG:0,2\r\n" + OK  # still attaching
        rig.advance_to(start + 231)
        assert rig.command("AT+CEREG?")[0] == b"\r\n+CEREG:0,1\r\n" + OK


def test_an_edrx_record_names_its_cycle_and_uart_bytes_wake_the_module_from_it() -> None:
    stream = io.StringIO()
    with stepped(timeline_stream=stream) as rig:
        start = rig.now
        rig.advance_to(start + 5)  # registered (quick attach), PSM not asked for
        assert rig.command('AT+CEDRXS=2,5,"1101"')[0].endswith(OK)  # sent in a TAU
        rig.advance_to(start + 60)  # the TAU released: idle in eDRX
        rig.command("AT")  # the DTE's bytes wake the module between paging windows
        rig.advance_to(start + 120)
    records = [json.loads(line) for line in stream.getvalue().splitlines()[1:]]
    edrx = [r for r in records if r["state"] == "edrx"]
    assert edrx and all(r["edrx"] == [2621.44, 10.24] for r in edrx), edrx
    states = [r["state"] for r in records]
    at = states.index("awake", states.index("edrx"))
    assert states[at - 1 : at + 2] == ["edrx", "awake", "edrx"], states
