# The EC200/EC600 (Quectel Cat1, QI stack) profile against scripted exchanges (virtual time).
import ec200_script as s
from fakes import Later, modem
from nbkit.modem import lifecycle as lc
from nbkit.modem.ec200 import Ec200, ModemError
from sim_pins import SimPin

HEAPSIZE = "256K"

# Bytes that would confuse a line parser: CR/LF, a final code, a URC header, a NUL, a prompt.
NASTY = b'\r\nOK\r\n+QIURC: "recv",0,4\r\n\x00\xff> SEND OK\r\n'


def _driver(split=0, **kw):
    engine, fake, clock = modem(split)
    kw.setdefault("apn", "cmiot")
    drv = Ec200(engine, clock, **kw)
    events = []
    drv.lifecycle.subscribe(lambda old, new, ev: events.append(new))
    return drv, fake, clock, events


def _attached(**kw):
    drv, fake, clock, events = _driver(**kw)
    s.attach(fake, kw.get("apn", "cmiot"))
    assert drv.attach(60000), drv.last_error
    return drv, fake, clock


def test_attach_checks_the_sim_sets_the_apn_waits_for_lte_and_activates_the_context():
    drv, fake, _, events = _driver(split=7)
    s.configure(fake)
    s.registered(fake, searching_polls=2)
    s.activate(fake)
    assert drv.attach(60000), drv.last_error
    fake.verify()
    assert drv.reg.act == 7 and drv.pdp_active, drv.reg
    assert events == [lc.BOOTING, lc.CONFIGURING, lc.SEARCHING, lc.REGISTERED], events


def test_registration_urc_and_an_already_active_context():
    drv, fake, _, _ = _driver()
    s.configure(fake)
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG: 2,2\r\n" + s.OK)
    fake.expect(b"AT+CGREG?\r", b"\r\n+CGREG: 2,2\r\n" + s.OK, Later(700, s.REG_LTE))
    s.activate(fake, active=True)
    assert drv.attach(60000), drv.last_error
    fake.verify()
    assert drv.address == "10.7.157.1", drv.address


def test_a_registration_urc_ends_the_wait_at_once_not_after_the_poll_gap():
    # The +CEREG URC 700 ms into the 2 s gap between polls: the attach goes on right then
    # (it slept out the gap: 2 s of ticks, 80 device-minutes on the x2400 virtual board).
    drv, fake, clock, _ = _driver()
    s.configure(fake)
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG: 2,2\r\n" + s.OK)
    fake.expect(b"AT+CGREG?\r", b"\r\n+CGREG: 2,2\r\n" + s.OK, Later(700, s.REG_LTE))
    s.activate(fake, active=True)
    start = clock.ticks_ms()
    assert drv.attach(60000), drv.last_error
    fake.verify()
    assert clock.ticks_diff(clock.ticks_ms(), start) < 1000, clock.ticks_ms() - start


def test_sim_not_inserted_fails_with_a_reason_after_bounded_tries():
    drv, fake, clock, _ = _driver()
    fake.expect(b"AT\r", s.OK)
    fake.expect(b"ATE0\r", s.OK)
    fake.expect(b"AT+CMEE=1\r", s.OK)
    for _ in range(5):
        fake.expect(b"AT+CPIN?\r", b"\r\n+CME ERROR: 10\r\n")
    assert not drv.attach(60000)
    fake.verify()
    assert drv.last_error == "SIM not ready (CME 10)", drv.last_error
    assert clock.ticks_ms() < 10000, clock.ticks_ms()


def test_context_activation_refused_names_the_error():
    drv, fake, _, _ = _driver()
    s.configure(fake)
    s.registered(fake)
    fake.expect(b"AT+QIACT?\r", s.OK)
    fake.expect(b"AT+QIACT=1\r", b"\r\n+CME ERROR: 561\r\n")
    assert not drv.attach(60000)
    assert drv.last_error == "AT+QIACT=1: 561 open PDP context failed", drv.last_error


def test_binary_payload_with_crlf_ok_and_qiurc_bytes_is_sent_raw_after_the_prompt():
    drv, fake, _ = _attached()
    s.open_tcp(fake, 0)
    sock = drv.open("TCP", "127.0.0.1", 7000)
    s.send(fake, sock, NASTY)
    assert drv.send(sock, NASTY) == len(NASTY)
    fake.verify()
    assert fake.writes[-1] == NASTY, fake.writes[-1]


def test_send_fail_raises():
    drv, fake, _ = _attached()
    s.open_tcp(fake, 0)
    sock = drv.open("TCP", "127.0.0.1", 7000)
    s.send(fake, sock, b"abc", result=b"SEND FAIL")
    try:
        drv.send(sock, b"abc")
    except ModemError as exc:
        assert "SEND" in str(exc) or "ERROR" in str(exc), exc
    else:
        raise AssertionError("SEND FAIL accepted")


def test_pushed_payload_with_nasty_bytes_arrives_intact_and_a_glued_urc_is_dispatched():
    drv, fake, _ = _attached(split=3)
    s.open_tcp(fake, 0)
    sock = drv.open("TCP", "127.0.0.1", 7000)
    s.push(fake, sock, NASTY, after_ms=200, tail=b'\r\n+QIURC: "closed",0\r\n')
    got = drv.recv(sock, 5000)
    drv.poll(10)
    assert got == [NASTY], got
    assert drv.closed(sock), "the URC glued after the payload was not dispatched"


def test_payload_glued_to_the_next_recv_header_without_a_line_end():
    drv, fake, _ = _attached(split=5)
    s.open_tcp(fake, 1)
    sock = drv.open("TCP", "127.0.0.1", 7000, sock=1)
    fake.send(b'\r\n+QIURC: "recv",1,3\r\nOK\r+QIURC: "recv",1,2\r\n\r\n')
    got = drv.recv(sock, 1000)
    drv.poll(10)
    got += drv.recv(sock, 0)
    assert got == [b"OK\r", b"\r\n"], got


def test_qiopen_error_then_close_and_retry():
    drv, fake, _ = _attached()
    s.open_tcp(fake, 0, err=566)
    fake.expect(b"AT+QICLOSE=0\r", s.OK)
    s.open_tcp(fake, 0)
    assert drv.open("TCP", "127.0.0.1", 7000) == 0
    fake.verify()


def test_qiopen_that_never_answers_fails_after_two_tries_in_bounded_time():
    drv, fake, clock = _attached()
    t0 = clock.ticks_ms()
    fake.expect(b'AT+QIOPEN=1,0,"TCP","127.0.0.1",7000,0,1\r', s.OK)
    fake.expect(b"AT+QICLOSE=0\r", s.OK)
    s.open_tcp(fake, 0, err=566)
    try:
        drv.open("TCP", "127.0.0.1", 7000)
    except ModemError as exc:
        assert exc.code == 566 and "socket connect failed" in str(exc), exc
    else:
        raise AssertionError("open succeeded")
    fake.verify()
    assert 60000 <= clock.ticks_diff(clock.ticks_ms(), t0) < 70000


def test_buffer_mode_reads_with_qird_by_count():
    drv, fake, _ = _attached(split=4)
    s.open_tcp(fake, 2, mode=0)
    sock = drv.open("TCP", "127.0.0.1", 7000, mode=0, sock=2)
    fake.send(b'\r\n+QIURC: "recv",2\r\n', after_ms=100)
    fake.expect(b"AT+QIRD=2,1500\r", b"\r\n+QIRD: 6\r\nOK\r\n\r\n" + s.OK)
    fake.expect(b"AT+QIRD=2,1500\r", b"\r\n+QIRD: 0\r\n" + s.OK)
    assert drv.recv(sock, 1000) == [b"OK\r\n\r\n"]
    fake.verify()


def test_closed_by_peer_then_recv_returns_at_once():
    drv, fake, clock = _attached()
    s.open_tcp(fake, 0)
    sock = drv.open("TCP", "127.0.0.1", 7000)
    fake.send(b'\r\n+QIURC: "closed",0\r\n', after_ms=100)
    t0 = clock.ticks_ms()
    assert drv.recv(sock, 30000) == []
    assert drv.closed(sock) and clock.ticks_diff(clock.ticks_ms(), t0) < 1000
    try:
        drv.send(sock, b"x")
    except ModemError as exc:
        assert exc.code == 567, exc
    else:
        raise AssertionError("send on a closed socket")
    fake.expect(b"AT+QICLOSE=0\r", s.OK)
    drv.close(sock)
    assert not drv.closed(sock)


def test_pdpdeact_closes_sockets_resume_fails_and_attach_reactivates():
    drv, fake, _ = _attached()
    s.open_tcp(fake, 0)
    sock = drv.open("TCP", "127.0.0.1", 7000)
    fake.send(b'\r\n+QIURC: "pdpdeact",1\r\n')
    drv.poll(10)
    assert drv.closed(sock) and not drv.pdp_active
    assert not drv.resume()
    fake.expect(b"AT\r", s.OK)
    fake.expect(b"ATE0\r", s.OK)
    fake.expect(b"AT+CMEE=1\r", s.OK)
    fake.expect(b"AT+CPIN?\r", b"\r\n+CPIN: READY\r\n" + s.OK)
    fake.expect(b"AT+CEREG=2\r", s.OK)
    fake.expect(b"AT+CGREG=2\r", s.OK)
    fake.expect(b'AT+QICSGP=1,1,"cmiot","","",0\r', s.OK)
    fake.expect(b"AT+CFUN=1\r", s.OK)
    s.registered(fake)
    s.activate(fake)
    assert drv.attach(60000), drv.last_error
    fake.verify()


def test_sleep_raises_dtr_and_resume_lowers_it_and_checks_registration():
    dtr = SimPin(0)
    drv, fake, clock = _attached(dtr=dtr)
    fake.expect(b"AT+QSCLK=1\r", s.OK)
    assert drv.sleep() and dtr.value() == 1
    t0 = clock.ticks_ms()
    fake.expect(b"AT\r", s.OK)
    fake.expect(b"AT+CEREG?\r", b'\r\n+CEREG: 2,1,"1A2B","01A2B3C4",7\r\n' + s.OK)
    assert drv.resume()
    assert dtr.value() == 0 and clock.ticks_diff(clock.ticks_ms(), t0) >= 50
    fake.verify()


def test_dns_answers_addresses_or_the_error():
    drv, fake, _ = _attached()
    fake.expect(
        b'AT+QIDNSGIP=1,"collector.example"\r',
        s.OK,
        Later(300, b'\r\n+QIURC: "dnsgip",0,2,600\r\n'),
        Later(310, b'\r\n+QIURC: "dnsgip","10.1.2.3"\r\n+QIURC: "dnsgip","10.1.2.4"\r\n'),
    )
    assert drv.resolve("collector.example") == ["10.1.2.3", "10.1.2.4"]
    fake.expect(b'AT+QIDNSGIP=1,"nx.example"\r', s.OK, Later(300, b'\r\n+QIURC: "dnsgip",565\r\n'))
    try:
        drv.resolve("nx.example")
    except ModemError as exc:
        assert exc.code == 565 and "DNS parse failed" in str(exc), exc
    else:
        raise AssertionError("a failed lookup returned")
    assert drv.resolve("127.0.0.1") == ["127.0.0.1"]
    fake.verify()


def test_module_reboot_rdy_marks_everything_down():
    drv, fake, _ = _attached()
    s.open_tcp(fake, 0)
    sock = drv.open("TCP", "127.0.0.1", 7000)
    fake.send(b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QIND: PB DONE\r\n")
    drv.poll(10)
    assert drv.closed(sock) and not drv.pdp_active and drv.boots == 1
    assert drv.lifecycle.state == lc.REBOOTED, drv.lifecycle.state
    assert drv.engine.dropped == 0, drv.engine.counters()


def test_identity_and_signal():
    drv, fake, _ = _attached()
    fake.expect(b"AT+GSN\r", b"\r\n867726031076062\r\n" + s.OK)
    fake.expect(b"AT+CIMI\r", b"\r\n460111175090234\r\n" + s.OK)
    fake.expect(b"AT+QCCID\r", b"\r\n+QCCID: 89860317452040014000\r\n" + s.OK)
    fake.expect(b"AT+GMR\r", b"\r\nEC200UCNAAR02A05M08\r\n" + s.OK)
    info = drv.identity()
    assert info["imei"] == "867726031076062" and info["iccid"] == "89860317452040014000", info
    assert info["firmware"] == {"": "EC200UCNAAR02A05M08"}, info
    fake.expect(b"AT+CSQ\r", b"\r\n+CSQ: 24,99\r\n" + s.OK)
    assert drv.signal() == (24, -65)


def test_bc26_sets_the_default_pdn_and_needs_no_context_activation():
    drv, fake, _, _ = _driver(model="bc26", apn="ctnb")
    fake.expect(b"AT\r", s.OK)
    fake.expect(b"ATE0\r", s.OK)
    fake.expect(b"AT+CMEE=1\r", s.OK)
    fake.expect(b"AT+CPIN?\r", b"\r\n+CPIN: READY\r\n" + s.OK)
    fake.expect(b"AT+CEREG=2\r", s.OK)
    fake.expect(b"AT+CGREG=2\r", s.ERROR)  # NB-IoT only: no CGREG, recorded, not fatal
    fake.expect(b'AT+QCGDEFCONT="IP","ctnb"\r', s.OK)
    fake.expect(b"AT+CFUN=1\r", s.OK)
    fake.expect(b"AT+CEREG?\r", b'\r\n+CEREG: 2,1,"1A2B","01A2B3C4",9\r\n' + s.OK)
    fake.expect(b"AT+QIACT?\r", s.ERROR)
    assert drv.attach(60000), drv.last_error
    fake.verify()
    assert drv.pdp_active and drv.reg.act == 9 and drv.unsupported == ["AT+CGREG=2"]


def test_power_down_turns_the_radio_off_and_the_next_attach_turns_it_on():
    drv, fake, _ = _attached()
    fake.expect(b"AT+CFUN=0\r", Later(1200, s.OK))
    assert drv.power_down() and drv.lifecycle.state == lc.OFF and not drv.pdp_active
    assert drv.granted() == (False, None, None)
    assert not drv.resume()
    s.attach(fake)
    assert drv.attach(60000), drv.last_error
    fake.verify()
