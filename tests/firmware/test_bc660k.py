# The Quectel BC660K-GL profile against scripted exchanges (virtual time): attach on the default
# bearer, PSM asked before attach and read back, UDP in buffer access mode, sleep and wake, and
# bad input (garbage, truncated URCs, a reset mid-command) ending in a clear error, never a hang.
import bc660k_script as s
from fakes import Later, modem
from nbkit.app.link_tcp import QiUdpLink
from nbkit.app.links import make_link, make_modem
from nbkit.lte import psm, qi
from nbkit.modem import lifecycle as lc
from nbkit.modem.bc660k import Bc660k, ModemError

HEAPSIZE = "256K"

NASTY = b'\r\nOK\r\n+QIURC: "recv",0\r\n\x00\xff> SEND OK\r\nRDY\r\n'
PSM_REQ = (86400, 60)


def _driver(split=0, **kw):
    engine, fake, clock = modem(split)
    kw.setdefault("apn", "cmnbiot")
    drv = Bc660k(engine, clock, **kw)
    events = []
    drv.lifecycle.subscribe(lambda old, new, ev: events.append(new))
    return drv, fake, clock, events


def _attached(**kw):
    drv, fake, clock, events = _driver(**kw)
    s.attach(fake, kw.get("apn", "cmnbiot"))
    assert drv.attach(60000), drv.last_error
    return drv, fake, clock


def _raises(fn, *words):
    try:
        fn()
    except ModemError as exc:
        for word in words:
            assert word in str(exc), (word, str(exc))
        return exc
    raise AssertionError("no ModemError")


def test_attach_sets_the_default_pdn_and_needs_no_context_activation():
    drv, fake, _, events = _driver(split=5)
    s.configure(fake)
    s.registered(fake, searching_polls=2)
    assert drv.attach(60000), drv.last_error
    fake.verify()
    assert drv.pdp_active and drv.reg.act == 9, drv.reg
    assert events == [lc.BOOTING, lc.CONFIGURING, lc.SEARCHING, lc.REGISTERED], events
    assert b"AT+QIACT?\r" not in fake.writes


def test_psm_is_requested_before_the_radio_goes_on_and_the_grant_is_read_from_cereg_4():
    cmd, _, _ = psm.request(*PSM_REQ)
    drv, fake, _, _ = _driver(psm=PSM_REQ)
    s.configure(fake, cereg_n=4, psm_cmd=cmd)
    s.registered(fake, n=4, tail=b',,,"00100001","00111000"')
    assert drv.attach(60000), drv.last_error
    assert fake.writes.index(cmd.encode() + b"\r") < fake.writes.index(b"AT+CFUN=1\r")
    grant = b'\r\n+CEREG: 4,1,"1A2B","01A2B3C4",9,,,"00100001","00111000"\r\n'
    fake.expect(b"AT+CEREG?\r", grant + s.OK)
    granted, active_s, tau_s = drv.granted()
    fake.verify()
    assert granted and active_s == 60 and tau_s == 86400, (granted, active_s, tau_s)


def test_a_psm_request_the_timers_cannot_hold_is_refused_at_construction():
    engine, _, clock = modem()
    for bad in ((1, 2, 3), "soon", (-5, 10)):
        try:
            Bc660k(engine, clock, psm=bad)
        except ValueError as exc:
            assert "psm" in str(exc), exc
            continue
        raise AssertionError("accepted psm=%r" % (bad,))


def test_udp_on_context_0_in_buffer_mode_sends_raw_bytes_and_reads_with_qird():
    drv, fake, _ = _attached(split=4)
    s.open_udp(fake, 0)
    sock = drv.open("UDP", "127.0.0.1", 7000)
    s.send(fake, sock, NASTY)
    assert drv.send(sock, NASTY) == len(NASTY)
    fake.send(b'\r\n+QIURC: "recv",0\r\n', after_ms=500)
    s.read(fake, 0, NASTY)
    s.read_empty(fake, 0)
    got = drv.recv(sock, 5000)
    fake.verify()
    assert got == [NASTY], got
    assert drv.lifecycle.online and drv.boots == 0, "payload bytes were taken for URCs"


def test_a_recv_urc_that_shows_the_length_is_still_read_with_qird_not_by_count():
    drv, fake, _ = _attached(split=5)
    s.open_udp(fake, 1, after_ms=10)
    sock = drv.open("UDP", "127.0.0.1", 7000, sock=1)
    fake.send(b'\r\n+QIURC: "recv",1,4\r\n+CSCON: 0\r\n', after_ms=100)
    s.read(fake, 1, b"ping")
    s.read_empty(fake, 1)
    assert drv.recv(sock, 1000) == [b"ping"]
    fake.verify()
    assert drv.rrc == 0, "the URC after the recv line was taken as payload"


def test_qiopen_error_code_is_named_after_one_retry():
    drv, fake, _ = _attached()
    s.open_udp(fake, 0, err=561)
    fake.expect(b"AT+QICLOSE=0\r", s.OK)
    s.open_udp(fake, 0, err=561)
    exc = _raises(lambda: drv.open("UDP", "127.0.0.1", 7000), "561")
    assert exc.code == 561, exc.code


def test_nbiot_events_move_the_lifecycle_into_psm_and_out():
    drv, fake, _ = _attached()
    fake.send(b"\r\n+CSCON: 0\r\n", 100)
    fake.send(b'\r\n+QNBIOTEVENT: "ENTER PSM"\r\n', 200)
    drv.idle(300)
    assert drv.lifecycle.state == lc.PSM, drv.lifecycle.state
    fake.send(b'\r\n+QNBIOTEVENT: "EXIT PSM"\r\n')
    drv.idle(10)
    assert drv.lifecycle.state == lc.IDLE, drv.lifecycle.state


def test_sleep_then_a_wake_after_mcu_deep_sleep_resumes_without_attaching():
    drv, fake, _ = _attached()
    fake.expect(b"AT+QSCLK=1\r", s.OK)
    assert drv.sleep() and drv.asleep
    # a new MCU boot: a fresh driver; the first AT only wakes the module (no answer)
    engine, fake, clock = modem()
    drv = Bc660k(engine, clock, apn="cmnbiot")
    fake.expect(b"AT\r")
    fake.expect(b"AT\r", b"\r\n+QATWAKEUP\r\n" + s.OK)
    fake.expect(b"AT+QSCLK=0\r", s.OK)  # awake for the session (manual, AT+QSCLK note 3)
    fake.expect(b"AT+CEREG?\r", b'\r\n+CEREG: 2,1,"1A2B","01A2B3C4",9\r\n' + s.OK)
    assert drv.resume(), drv.last_error
    fake.verify()
    assert drv.wakeups == 1 and drv.pdp_active and drv.lifecycle.online and not drv.asleep
    assert drv.last_commands == 4, drv.last_commands
    assert clock.ticks_ms() < 300, "the lost waking command cost more than its 100 ms"


def test_a_module_reset_while_asleep_means_attach_again():
    engine, fake, clock = modem()
    drv = Bc660k(engine, clock, apn="cmnbiot")
    fake.expect(b"AT\r", s.OK)  # the wake-up nudge: answered, the module was awake
    fake.expect(b"AT\r", s.OK)
    fake.expect(b"AT+QSCLK=0\r", s.OK)
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG: 0,1\r\n" + s.OK)  # n=0: not our settings
    assert not drv.resume()
    assert "rebooted" in drv.last_error, drv.last_error


def test_garbage_and_truncated_urcs_are_ignored_and_the_next_command_works():
    drv, fake, _ = _attached(split=3)
    junk = (
        b'\r\n+QIURC:\r\n+QIURC: "recv"\r\n+QIURC: "recv",x\r\n+QNBIOTEVENT:\r\n'
        b'+QNBIOTEVENT: "SOMETHING"\r\n+CSCON: 7\r\n+CEREG: ,,\r\n+QIOPEN: a,b\r\n'
        b"\x00\xff\xfe garbage \x1b[0m\r\n" + b"X" * 900 + b"\r\n"
    )
    fake.send(junk, 10)
    drv.idle(100)
    assert drv.lifecycle.online and drv.lifecycle.state == lc.REGISTERED, drv.lifecycle.state
    fake.expect(b"AT+CSQ\r", b"\r\n+CSQ: 22,0\r\n" + s.OK)
    assert drv.signal() == (22, -69), "the line after the garbage was not parsed"


def test_a_cut_or_garbled_qird_is_a_clear_error_and_the_next_read_works():
    drv, fake, clock = _attached()
    s.open_udp(fake, 0)
    sock = drv.open("UDP", "127.0.0.1", 7000)
    bad = (
        b'\r\n+QIRD: 10\r\n"616263',  # cut: no line end, no OK (times out)
        b'\r\n+QIRD: 3\r\n"6162"\r\n\r\nOK\r\n',  # count and data disagree
        b'\r\n+QIRD: 2\r\n"zz!!"\r\n\r\nOK\r\n',  # not hex
        b"\r\n+QIRD: x\r\n\r\nOK\r\n",  # no length
    )
    for reply in bad:
        fake.send(b'\r\n+QIURC: "recv",0\r\n')
        fake.expect(b"AT+QIRD=0,%d\r" % s.READ, reply)
        start = clock.ticks_ms()
        _raises(lambda: drv.recv(sock, 1000), "AT+QIRD=0")
        assert clock.ticks_diff(clock.ticks_ms(), start) <= 3100, "waited past its timeout"
    fake.send(b'\r\n+QIURC: "recv",0\r\n')
    s.read(fake, 0, b"\r\nOK\r\n")
    s.read_empty(fake, 0)
    assert drv.recv(sock, 1000) == [b"\r\nOK\r\n"]


def test_a_reset_in_the_middle_of_a_send_is_a_clear_error_and_the_sockets_are_gone():
    drv, fake, clock = _attached()
    s.open_udp(fake, 0)
    sock = drv.open("UDP", "127.0.0.1", 7000)
    fake.expect(b"AT+QISEND=0,3\r", Later(50, b"\r\nRDY\r\n"))  # reset: no prompt, ever
    start = clock.ticks_ms()
    _raises(lambda: drv.send(sock, b"abc"), "QISEND")
    assert clock.ticks_diff(clock.ticks_ms(), start) <= 11000, "waited past its timeout"
    assert drv.boots == 1 and drv.lifecycle.state == lc.REBOOTED, drv.lifecycle.state
    assert drv.closed(sock) and not drv.pdp_active
    _raises(lambda: drv.send(sock, b"abc"), "not open")


def test_a_reset_during_attach_fails_the_attach_at_once_with_the_reason():
    drv, fake, clock, _ = _driver()
    s.configure(fake)
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG: 2,2\r\n" + s.OK, Later(300, b"\r\nRDY\r\n"))
    ok = drv.attach(20000)
    fake.verify()
    assert not ok and drv.last_error == "modem reset during attach (RDY)", drv.last_error
    assert clock.ticks_ms() < 5000, clock.ticks_ms()
    assert drv.boots == 1 and drv.lifecycle.state == lc.REBOOTED
    s.attach(fake)  # the next attach starts from the probe and configures again
    assert drv.attach(20000), drv.last_error


def test_deep_sleep_events_of_xinyi_based_firmware_only_mark_the_sleep():
    drv, fake, _ = _attached()
    fake.send(b'\r\n+QNBIOTEVENT: "ENTER DEEPSLEEP"\r\n')
    drv.idle(10)
    assert drv.asleep and drv.lifecycle.online
    fake.send(b'\r\n+QNBIOTEVENT: "EXIT DEEPSLEEP"\r\n')
    drv.idle(10)
    assert not drv.asleep and drv.lifecycle.state == lc.REGISTERED


def test_reboot_waits_for_rdy_then_probes():
    drv, fake, _ = _attached()
    fake.expect(b"AT+QRST=1\r", s.OK, Later(2000, b"\r\nRDY\r\n"))
    fake.expect(b"AT\r", s.OK)
    fake.expect(b"AT+QSCLK=0\r", s.OK)
    assert drv.reboot()
    fake.verify()
    assert drv.lifecycle.state == lc.CONFIGURING, drv.lifecycle.state


def test_the_registry_builds_it_and_its_link_and_refuses_what_it_cannot_carry():
    engine, _, clock = modem()
    cfg = {"apn": "", "server_host": "127.0.0.1", "server_port": 7000, "device_id": 7}
    drv = make_modem("bc660k", engine, clock, cfg, psm=PSM_REQ)
    assert isinstance(drv, Bc660k) and drv.psm_requested == PSM_REQ, drv.psm_requested
    assert isinstance(make_link(cfg, drv), QiUdpLink)
    cfg["transport"] = "coap"
    try:
        make_link(cfg, drv)
    except ValueError as exc:
        assert "coap" in str(exc) and "bc660k" in str(exc), exc
    else:
        raise AssertionError("coap accepted on a bc660k")
    try:
        Bc660k(engine, clock, model="bc95")
    except ValueError as exc:
        assert "bc660k" in str(exc), exc
    else:
        raise AssertionError("model bc95 accepted")


def test_a_real_modules_answers_identity_signal_and_the_psm_grant():
    # Lines as a BC660K-GL answered them (markbac/quectel-bc660k-dashboard, tests/transcripts/
    # bc660k_real_2026-10-03.jsonl): roaming (stat 5), T3324 "00100011" = 3 min, T3412
    # "00101010" = 10 h; "+CSQ: 10,0"; "Revision: BC660KGLAAR01A05".
    drv, fake, _ = _attached()
    real = b'\r\n+CEREG: 4,5,"0001","0000ABCD",9,,,"00100011","00101010"\r\n\r\nOK\r\n'
    fake.expect(b"AT+CEREG?\r", real)
    assert drv.granted() == (True, 180, 36000), drv.reg
    assert drv.reg.stat == 5 and drv.lifecycle.online
    fake.expect(b"AT+CSQ\r", b"\r\n+CSQ: 10,0\r\n\r\nOK\r\n")
    assert drv.signal() == (10, -93)
    fake.expect(b"AT+CGSN=1\r", b"\r\n+CGSN: 001010000000001\r\n\r\nOK\r\n")
    fake.expect(b"AT+CIMI\r", b"\r\n001010000000001\r\n\r\nOK\r\n")
    fake.expect(b"AT+QCCID\r", b"\r\n+QCCID: 89000000000000000001\r\n\r\nOK\r\n")
    fake.expect(b"AT+CGMR\r", b"\r\nRevision: BC660KGLAAR01A05\r\n\r\nOK\r\n")
    got = drv.identity()
    fake.verify()
    assert got["imei"] == "001010000000001" and got["iccid"] == "89000000000000000001", got
    assert got["imsi"] == "001010000000001" and got["firmware"] == {
        "": "Revision: BC660KGLAAR01A05"
    }, got


def test_qird_hex_parser_takes_both_layouts_and_names_what_is_wrong():
    assert qi.parse_qird_hex(["+QIRD: 3", '"0D0A4F"']) == b"\r\nO"
    assert qi.parse_qird_hex(['+QIRD: 2,"4F4B"']) == b"OK"  # AT+QICFG="viewmode",1
    assert qi.parse_qird_hex(["+QIRD: 0"]) == b""
    for lines, words in (
        ([], "no +QIRD"),
        (["+QIRD: 2"], "2 but 0"),
        (["+QIRD: 1", '"4"'], "1 but 1"),
        (["+QIRD: 1", '"G0"'], "not hex"),
        (["+QIRD: -1"], "no +QIRD"),
    ):
        try:
            qi.parse_qird_hex(lines)
        except ValueError as exc:
            assert words in str(exc), (lines, str(exc))
            continue
        raise AssertionError("accepted %r" % (lines,))
