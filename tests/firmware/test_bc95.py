# The BC95/BC28 profile against scripted Huawei-firmware exchanges (virtual time).
import bc95_script as s
from fakes import Later, modem
from nbkit.modem import lifecycle as lc
from nbkit.modem.bc95 import Bc95, ModemError

# This module is compiled from source inside the MicroPython heap (about 40 KB of it) and
# builds kilobyte test payloads: room for the harness, the driver's own cost is in at_bench.py.
HEAPSIZE = "256K"

IP = b"10.0.0.9"
PORT = 5683


def _driver(split=0, **kw):
    engine, fake, clock = modem(split, line_max=2800 if kw.get("nsonmi", 1) != 1 else 1100)
    drv = Bc95(engine, clock, **kw)
    events = []
    drv.lifecycle.subscribe(lambda old, new, ev: events.append((old, new, ev)))
    return drv, fake, clock, events


def test_attach_runs_the_init_and_attach_scripts_and_registers_on_the_urc():
    drv, fake, _, events = _driver(split=9)
    s.configure(fake)
    s.attach(fake)
    assert drv.attach(60000), drv.last_error
    fake.verify()
    assert drv.lifecycle.state == lc.REGISTERED, drv.lifecycle.state
    assert drv.reg.tac == 0x216 and drv.reg.ci == 0x153803F, drv.reg
    assert drv.last_commands == 9, drv.last_commands
    path = [new for _, new, _ in events]
    assert path == [lc.BOOTING, lc.CONFIGURING, lc.SEARCHING, lc.REGISTERED], events


def test_autoconnect_true_is_turned_off_with_a_reboot_and_first_error_tolerated():
    drv, fake, _, events = _driver()
    s.configure(fake, autoconnect=True)
    s.attach(fake)
    assert drv.attach(60000), drv.last_error
    fake.verify()
    assert drv.boot_cause == "REBOOT_CAUSE_APPLICATION_AT", drv.boot_cause
    # boot garbage "\x00H\xc3?": two non-ASCII bytes dropped, the printable rest "H?" one line
    assert drv.engine.garbage == 2 and drv.engine.dropped == 1, drv.engine.counters()
    assert lc.REBOOTED not in [new for _, new, _ in events], events


def test_power_on_banner_then_first_at_error_then_ok():
    drv, fake, _, _ = _driver()
    fake.send(s.POWER_ON_BANNER, after_ms=100)
    fake.expect(b"AT\r", s.ERROR)
    fake.expect(b"AT\r", s.OK)
    assert drv._probe()
    assert drv.boot_cause == "REBOOT_CAUSE_SECURITY_PMU_POWER_ON_RESET", drv.boot_cause


def test_modem_that_never_answers_fails_after_bounded_probes():
    drv, fake, clock, _ = _driver(max_failures=0)
    for _ in range(10):
        fake.expect(b"AT\r")
    assert not drv.attach(60000)
    fake.verify()
    assert drv.lifecycle.state == lc.ERROR and "no answer" in drv.last_error, drv.last_error
    assert clock.ticks_ms() < 20000, clock.ticks_ms()


def test_attach_returns_as_soon_as_the_registration_urc_arrives():
    # Found against the emulator: attach used to sit out the whole 2 s CEREG poll slice.
    drv, fake, clock, _ = _driver()
    s.configure(fake)
    s.attach(fake, register_after_ms=100)
    start = clock.ticks_ms()
    assert drv.attach(60000), drv.last_error
    fake.verify()
    took = clock.ticks_diff(clock.ticks_ms(), start)
    assert took < 1500, took  # CFUN=1 takes 800 ms, then +CEREG:1 100 ms after CGATT=1


def test_registration_found_by_polling_cereg_when_the_urc_is_lost():
    drv, fake, _, _ = _driver(cereg_n=0)
    s.configure(fake, cereg_n=0)
    fake.expect(b"AT+CFUN=1\r", s.OK)
    fake.expect(b"AT+CGATT=1\r", s.OK)
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG:0,2\r\n" + s.OK)
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG:0,1\r\n" + s.OK)
    assert drv.attach(60000), drv.last_error
    fake.verify()
    assert drv.lifecycle.state == lc.REGISTERED


def test_attach_times_out_when_never_registered():
    drv, fake, clock, _ = _driver()
    s.configure(fake)
    fake.expect(b"AT+CFUN=1\r", s.OK)
    fake.expect(b"AT+CGATT=1\r", s.OK)
    for _ in range(5):
        fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG:2,2\r\n" + s.OK)
    assert not drv.attach(10000)
    fake.verify()
    assert drv.lifecycle.state == lc.SEARCHING and "not registered" in drv.last_error
    assert drv.lifecycle.failures == 1


def _searching(fake, polls):
    fake.expect(b"AT+CFUN=1\r", s.OK)
    fake.expect(b"AT+CGATT=1\r", s.OK)
    for _ in range(polls):
        fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG:2,2\r\n" + s.OK)


def test_in_a_known_hole_a_search_that_camps_on_no_cell_ends_at_45_s():
    drv, fake, clock, _ = _driver()
    drv.hole_known = True  # the app's word: the last attempt found no cell
    s.configure(fake)
    _searching(fake, 22)  # every 2 s up to 44 s
    fake.expect(b"AT+CSQ\r", b"\r\n+CSQ:99,99\r\n" + s.OK)  # no cell camped on
    assert not drv.attach(120000)
    fake.verify()
    assert 45000 <= clock.ticks_ms() < 50000, clock.ticks_ms()  # not the whole 120 s
    assert "no cell found in 45 s" in drv.last_error, drv.last_error


def test_in_a_known_hole_a_search_that_found_a_cell_waits_for_the_attach():
    drv, fake, clock, _ = _driver()
    drv.hole_known = True
    s.configure(fake)
    _searching(fake, 22)
    fake.expect(b"AT+CSQ\r", b"\r\n+CSQ:5,99\r\n" + s.OK)  # camped: attach signalling on
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG:2,1\r\n" + s.OK)
    assert drv.attach(120000), drv.last_error
    fake.verify()
    assert drv.lifecycle.state == lc.REGISTERED


def test_band_and_apn_are_set_with_the_radio_off_only_when_needed():
    drv, fake, _, _ = _driver(apn="iot.example", band=20)
    fake.expect(b"ATE0\r", s.OK)
    fake.expect(b"AT+CMEE=1\r", s.OK)
    fake.expect(b"AT+NCONFIG?\r", s.NCONFIG_OFF)
    fake.expect(b"AT+NBAND?\r", b"\r\n+NBAND:8\r\n" + s.OK)
    fake.expect(b"AT+CFUN=0\r", s.OK)
    fake.expect(b"AT+NBAND=20\r", s.OK)
    fake.expect(b"AT+CFUN=0\r", s.OK)
    fake.expect(b'AT+CGDCONT=1,"IP","iot.example"\r', s.OK)
    fake.expect(b"AT+CEREG=2\r", s.OK)
    fake.expect(b"AT+CSCON=1\r", s.OK)
    fake.expect(b"AT+NPSMR=1\r", s.OK)
    assert drv._configure() is None
    fake.verify()


def test_refused_optional_settings_are_recorded_not_fatal():
    drv, fake, _, _ = _driver()
    fake.expect(b"AT\r", s.OK)
    fake.expect(b"ATE0\r", s.OK)
    fake.expect(b"AT+CMEE=1\r", s.OK)
    fake.expect(b"AT+NCONFIG?\r", s.ERROR)
    fake.expect(b"AT+CEREG=2\r", s.OK)
    fake.expect(b"AT+CSCON=1\r", s.OK)
    fake.expect(b"AT+NPSMR=1\r", s.ERROR)
    fake.expect(b"AT+NPSMR=1\r", s.ERROR)  # the URC script tries twice
    s.attach(fake)
    assert drv.attach(60000), drv.last_error
    fake.verify()
    assert drv.unsupported == ["AT+NCONFIG?", "AT+NPSMR=1"], drv.unsupported


def test_refused_required_setting_fails_the_attach_with_a_reason():
    drv, fake, _, _ = _driver(band=20)
    fake.expect(b"AT\r", s.OK)
    fake.expect(b"ATE0\r", s.OK)
    fake.expect(b"AT+CMEE=1\r", s.OK)
    fake.expect(b"AT+NCONFIG?\r", s.NCONFIG_OFF)
    fake.expect(b"AT+NBAND?\r", b"\r\n+NBAND:8\r\n" + s.OK)
    fake.expect(b"AT+CFUN=0\r", s.OK)
    fake.expect(b"AT+NBAND=20\r", b"\r\n+CME ERROR: 4\r\n")
    assert not drv.attach(60000)
    fake.verify()
    assert drv.last_error == "AT+NBAND=20 refused", drv.last_error


def test_nsonmi_mode_is_configured_when_not_the_default():
    drv, fake, _, _ = _driver(nsonmi=2, cereg_n=5)
    fake.expect(b"ATE0\r", s.OK)
    fake.expect(b"AT+CMEE=1\r", s.OK)
    fake.expect(b"AT+NCONFIG?\r", s.NCONFIG_OFF)
    fake.expect(b"AT+CEREG=5\r", s.OK)
    fake.expect(b"AT+CSCON=1\r", s.OK)
    fake.expect(b"AT+NPSMR=1\r", s.OK)
    fake.expect(b"AT+NSONMI=2\r", s.OK)
    assert drv._configure() is None
    fake.verify()


def _attached(**kw):
    drv, fake, clock, events = _driver(**kw)
    s.configure(fake, cereg_n=kw.get("cereg_n", 2), nsonmi=kw.get("nsonmi", 1))
    s.attach(fake, register_after_ms=100)
    assert drv.attach(60000), drv.last_error
    return drv, fake, clock, events


def test_full_attach_send_receive_close():
    drv, fake, _, events = _attached()
    s.open_socket(fake, 1)
    sock = drv.open_udp()
    s.send(fake, 1, IP, PORT, b"Hello World!")
    assert drv.sendto(sock, "10.0.0.9", PORT, b"Hello World!") == 12
    assert drv.lifecycle.state == lc.CONNECTED, drv.lifecycle.state
    fake.send(b"\r\n+NSONMI:1,3\r\n", after_ms=1500)
    s.nsorf(fake, 1, IP, PORT, b"ack")
    s.nsorf_empty(fake, 1)
    got = drv.recv(sock, timeout_ms=5000)
    assert [(d.data, d.ip, d.port) for d in got] == [(b"ack", "10.0.0.9", PORT)], got
    assert drv.last_commands == 2, drv.last_commands
    fake.expect(b"AT+NSOCL=1\r", s.OK, Later(50, b"\r\n+CSCON:0\r\n"), Later(90, b"+NPSMR:1\r\n"))
    drv.close(sock)
    drv.idle(200)
    fake.verify()
    path = [new for _, new, _ in events]
    assert path[-3:] == [lc.CONNECTED, lc.IDLE, lc.PSM], events


def test_sendto_with_release_flag_uses_nsostf():
    drv, fake, _, _ = _attached()
    s.open_socket(fake, 0)
    sock = drv.open_udp()
    s.send(fake, 0, IP, PORT, b"\x01\x02", flags=0x200)
    assert drv.sendto(sock, "10.0.0.9", PORT, b"\x01\x02", flags=0x200) == 2
    fake.verify()


def test_nsorf_loops_while_remaining_and_rechecks_after_the_last_read():
    # remaining_length > 0: the rest of the same datagram comes with the next read.
    drv, fake, _, _ = _attached()
    s.open_socket(fake, 1)
    sock = drv.open_udp()
    fake.send(b"\r\n+NSONMI:1,4\r\n")
    s.nsorf(fake, 1, IP, PORT, b"ab", remaining=2)
    s.nsorf(fake, 1, IP, PORT, b"cd", remaining=0)
    s.nsorf(fake, 1, IP, PORT, b"e", remaining=0)  # came during a read: no new URC
    s.nsorf_empty(fake, 1)
    got = drv.recv(sock, 1000)
    assert [(d.data, d.length, d.remaining) for d in got] == [(b"abcd", 4, 0), (b"e", 1, 0)]
    assert drv.last_commands == 4, drv.last_commands
    fake.verify()


def test_nsorf_reads_are_bounded_per_recv_call():
    drv, fake, _, _ = _attached()
    fake.send(b"\r\n+NSONMI:1,1\r\n")
    for _ in range(8):
        s.nsorf(fake, 1, IP, PORT, b"x", remaining=5)
    got = drv.recv(1, 1000)
    assert len(got) == 1 and got[0].data == b"x" * 8 and got[0].remaining == 5, got
    fake.verify()


def test_nsorf_error_on_an_empty_socket_counts_as_empty():
    drv, fake, _, _ = _attached()
    fake.send(b"\r\n+NSONMI:1,1\r\n")
    s.nsorf(fake, 1, IP, PORT, b"x")
    fake.expect(b"AT+NSORF=1,512\r", b"\r\n+CME ERROR: 4\r\n")
    assert [d.data for d in drv.recv(1, 1000)] == [b"x"]
    fake.verify()


def test_nsonmi_modes_2_and_3_deliver_data_without_nsorf():
    drv, fake, _, _ = _attached(nsonmi=3)
    s.open_socket(fake, 2)
    sock = drv.open_udp()
    fake.send(b"\r\n+NSONMI:2,3,414243\r\n+NSONMI:2,10.0.0.9,5683,1,7A\r\n")
    got = drv.recv(sock, 1000)
    assert [d.data for d in got] == [b"ABC", b"z"], got
    assert got[1].ip == "10.0.0.9" and got[1].port == PORT, got
    assert drv.recv(sock, 0) == []
    fake.verify()


def test_nsonmi_mode_2_carries_a_long_datagram_in_one_line():
    drv, fake, _, _ = _attached(nsonmi=2)
    payload = bytes(range(256)) * 5  # 1280 bytes: a 2560-character hex line
    from binascii import hexlify

    fake.send(b"\r\n+NSONMI:0,10.0.0.9,5683,1280," + hexlify(payload).upper() + b"\r\n")
    got = drv.recv(0, 1000)
    assert len(got) == 1 and got[0].data == payload, got
    assert drv.engine.overlong == 0, drv.engine.counters()


def test_nsonmi_data_modes_need_an_engine_with_long_lines():
    engine, _, clock = modem()
    try:
        Bc95(engine, clock, nsonmi=2)
    except ValueError as exc:
        assert "line_max=2764" in str(exc), exc
        return
    raise AssertionError("NSONMI mode 2 accepted with 1100-byte lines")


def test_recv_with_nothing_announced_waits_and_returns_empty():
    drv, fake, clock, _ = _attached()
    s.open_socket(fake, 1)
    sock = drv.open_udp()
    t0 = clock.ticks_ms()
    assert drv.recv(sock, 3000) == []
    assert clock.ticks_ms() - t0 == 3000 and drv.last_commands == 0


def test_cme_159_backs_off_and_retries_in_virtual_time():
    drv, fake, clock, _ = _attached()
    s.open_socket(fake, 1)
    sock = drv.open_udp()
    cmd = b"AT+NSOST=1,10.0.0.9,5683,1,61\r"
    fake.expect(cmd, b"\r\n+CME ERROR: 159\r\n")
    fake.expect(cmd, b"\r\n+CME ERROR:537\r\n")
    fake.expect(cmd, b"\r\n1,1\r\n" + s.OK)
    t0 = clock.ticks_ms()
    assert drv.sendto(sock, "10.0.0.9", PORT, b"a") == 1
    assert clock.ticks_ms() - t0 == 250 + 500, clock.ticks_ms() - t0
    assert drv.backoffs == 2 and drv.last_commands == 3, (drv.backoffs, drv.last_commands)


def test_cme_159_gives_up_after_bounded_tries():
    drv, fake, _, _ = _attached()
    s.open_socket(fake, 1)
    sock = drv.open_udp()
    for _ in range(4):
        fake.expect(b"AT+NSOST=1,10.0.0.9,5683,1,61\r", b"\r\n+CME ERROR: 159\r\n")
    try:
        drv.sendto(sock, "10.0.0.9", PORT, b"a")
    except ModemError as exc:
        assert exc.reply.cme == 159, exc.reply
        fake.verify()
        return
    raise AssertionError("sendto succeeded")


def test_other_cme_errors_are_not_retried():
    drv, fake, _, _ = _attached()
    fake.expect(b"AT+NSOST=3,10.0.0.9,5683,1,61\r", b"\r\n+CME ERROR: 50\r\n")
    try:
        drv.sendto(3, "10.0.0.9", PORT, b"a")
    except ModemError:
        fake.verify()
        return
    raise AssertionError("sendto succeeded")


def test_peer_close_is_recorded_and_ends_a_recv_wait():
    drv, fake, clock, _ = _attached()
    fake.send(b"\r\n+NSOCLI:1\r\n", after_ms=500)
    t0 = clock.ticks_ms()
    assert drv.recv(1, 10000) == [] and drv.closed_by_peer(1)
    assert clock.ticks_ms() - t0 == 500, clock.ticks_ms() - t0


def test_a_reboot_banner_ends_a_recv_wait_at_once_and_marks_the_modem_rebooted():
    drv, fake, clock, _ = _attached()
    fake.send(b"\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\nNeul\r\nOK\r\n", after_ms=700)
    t0 = clock.ticks_ms()
    assert drv.recv(1, 10000) == []
    assert clock.ticks_ms() - t0 == 700, clock.ticks_ms() - t0
    assert drv.lifecycle.state == lc.REBOOTED and drv.boots == 1, drv.lifecycle.state


def test_unexpected_reboot_moves_the_lifecycle_to_rebooted():
    drv, fake, _, events = _attached()
    fake.send(b"\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\nNeul\r\nOK\r\n")
    drv.poll(10)
    assert drv.lifecycle.state == lc.REBOOTED and drv.boots == 1, drv.lifecycle.state
    assert events[-1] == (lc.REGISTERED, lc.REBOOTED, lc.EV_BANNER), events


CRASH = s.CRASH


def test_reboot_mid_sendto_is_an_error_not_the_banners_ok():
    # Found against the emulator: the banner ends in OK, which ended AT+NSOST as a success.
    drv, fake, _, _ = _attached()
    fake.expect(b"AT+NSOST=1,10.0.0.9,5683,2,0102\r", Later(50, CRASH))
    try:
        drv.sendto(1, "10.0.0.9", PORT, b"\x01\x02")
    except ModemError as exc:
        assert "rebooted" in str(exc) and "WATCHDOG" in str(exc), exc
        assert drv.lifecycle.state == lc.REBOOTED, drv.lifecycle.state
        return
    raise AssertionError("sendto succeeded")


def test_reboot_mid_attach_fails_at_once_with_the_cause():
    # The banner's OK ends AT+CGATT=1; waiting for a registration that cannot come would take
    # the whole attach timeout.
    drv, fake, clock, _ = _driver()
    s.configure(fake)
    fake.expect(b"AT+CFUN=1\r", s.OK)
    fake.expect(b"AT+CGATT=1\r", Later(20, CRASH))
    assert not drv.attach(60000)
    fake.verify()
    assert "rebooted during attach" in drv.last_error, drv.last_error
    assert "WATCHDOG" in drv.last_error, drv.last_error
    assert clock.ticks_ms() < 5000, clock.ticks_ms()


def test_identity_and_signal():
    drv, fake, _, _ = _driver()
    fake.expect(b"AT+CGSN=1\r", b"\r\n+CGSN:867726031076062\r\n" + s.OK)
    fake.expect(b"AT+CIMI\r", b"\r\n460111175090234\r\n" + s.OK)
    fake.expect(b"AT+NCCID\r", b"\r\n+NCCID:89860317452040014000\r\n" + s.OK)
    fake.expect(b"AT+CGMR\r", b"\r\nSSB,V150R100C10B200SP1\r\nRADIO,Hi2115_RF1\r\n" + s.OK)
    got = drv.identity()
    assert got["imei"] == "867726031076062" and got["imsi"] == "460111175090234", got
    assert got["iccid"] == "89860317452040014000" and got["firmware"]["RADIO"] == "Hi2115_RF1"
    fake.expect(b"AT+CSQ\r", b"\r\n+CSQ:18,99\r\n" + s.OK)
    assert drv.signal() == (18, -77)
    fake.expect(b"AT+NUESTATS\r", b"\r\nSignal power:-819\r\nECL:0\r\n\r\n" + s.OK)
    assert drv.ue_stats() == {"Signal power": -819, "ECL": 0}
    fake.expect(b"AT+CGPADDR\r", b"\r\n+CGPADDR:0,10.45.3.7\r\n" + s.OK)
    assert drv.address() == "10.45.3.7"
    fake.verify()


def test_socket_open_refused_raises_with_the_reply():
    drv, fake, _, _ = _driver()
    fake.expect(b"AT+NSOCR=DGRAM,17,0,1\r", b"\r\n+CME ERROR: 4\r\n")
    fake.expect(b"AT+NSOCR=DGRAM,17,0,1\r", b"\r\n+CME ERROR: 4\r\n")
    try:
        drv.open_udp()
    except ModemError as exc:
        assert exc.reply.cme == 4 and drv.last_commands == 2, (exc.reply, drv.last_commands)
        return
    raise AssertionError("open_udp succeeded")


def test_constructor_refuses_unknown_model_and_nsonmi_mode():
    engine, _, clock = modem()
    for kw in ({"model": "bg96"}, {"nsonmi": 0}):
        try:
            Bc95(engine, clock, **kw)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (kw,))


def test_reboot_waits_for_the_banner_and_probes_until_ok():
    drv, fake, clock, events = _driver()
    fake.expect(b"AT+NRB\r", s.BANNER[:12], Later(3000, s.BANNER[12:]))
    fake.expect(b"AT\r", s.ERROR)
    fake.expect(b"AT\r", s.OK)
    assert drv.reboot()
    fake.verify()
    assert drv.boots == 1 and drv.boot_cause == "REBOOT_CAUSE_APPLICATION_AT", drv.boot_cause
    assert [new for _, new, _ in events] == [lc.BOOTING, lc.CONFIGURING], events
    assert 3000 <= clock.ticks_ms() < 5000, clock.ticks_ms()
