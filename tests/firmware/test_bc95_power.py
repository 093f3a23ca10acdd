# The BC95/BC28 power path against scripted Huawei-firmware exchanges (virtual time): PSM/eDRX
# requested before attach, the GRANTED timers read back, wake from PSM without re-attach, and the
# CFUN=0 fallback with its re-attach.
import bc95_script as s
from fakes import Later, modem
from nbkit.modem import lifecycle as lc
from nbkit.modem.bc95 import Bc95

HEAPSIZE = "256K"

# +CEREG n=4 as the Huawei firmware sends it: tac/ci unquoted, cause fields empty
GRANT_URC = b"\r\n+CEREG:1,0216,0153803F,9,,,00100100,00100001\r\n"  # T3324 4 min, T3412 1 h
READ_GRANTED = b"\r\n+CEREG:4,1,0216,0153803F,9,,,00100100,00100001\r\n" + s.OK
READ_NO_PSM = b"\r\n+CEREG:4,1,0216,0153803F,9\r\n" + s.OK
READ_DETACHED = b"\r\n+CEREG:4,0\r\n" + s.OK


def _driver(**kw):
    engine, fake, clock = modem()
    drv = Bc95(engine, clock, **kw)
    return drv, fake, clock


def _attach_with_power(fake, psm_cmd, edrx_cmd=None, grant=GRANT_URC):
    s.configure(fake, cereg_n=4)
    fake.expect(psm_cmd, s.OK)
    if edrx_cmd:
        fake.expect(edrx_cmd, s.OK)
    fake.expect(b"AT+CFUN=1\r", b"\r\n+CEREG:2\r\n", Later(800, s.OK))
    fake.expect(b"AT+CGATT=1\r", s.OK, Later(1500, grant))


def _writes(fake):
    return [w.rstrip(b"\r").decode() for w in fake.writes]


def test_psm_and_edrx_are_requested_before_the_radio_goes_on_with_cereg_4():
    drv, fake, _ = _driver(psm=(3600, 10), edrx=20480)
    psm_cmd = b'AT+CPSMS=1,,,"00000110","00000101"\r'
    _attach_with_power(fake, psm_cmd, b'AT+CEDRXS=2,5,"0010"\r')
    assert drv.attach(60000), drv.last_error
    fake.verify()
    sent = _writes(fake)
    assert sent.index("AT+CEREG=4") < sent.index(psm_cmd.decode().strip()), sent
    assert sent.index('AT+CEDRXS=2,5,"0010"') < sent.index("AT+CFUN=1"), sent
    assert drv.psm_requested == (3600, 10) and drv.edrx_requested == 20480


def test_requests_are_rounded_up_and_ptw_uses_nptwedrxs():
    drv, fake, _ = _driver(psm=(4000, 7), edrx=(20000, 2560))
    # 4000 s -> 70 min (unit 10 min), 7 s -> 8 s (unit 2 s); 20 s -> 20.48 s, PTW 2.56 s
    _attach_with_power(
        fake, b'AT+CPSMS=1,,,"00000111","00000100"\r', b'AT+NPTWEDRXS=2,5,"0000","0010"\r'
    )
    assert drv.attach(60000), drv.last_error
    fake.verify()
    assert drv.psm_requested == (4200, 8), drv.psm_requested


def test_impossible_requests_fail_at_construction():
    for kw in ({"psm": (10**9, 10)}, {"psm": (3600, 10**6)}, {"edrx": 10**8}):
        try:
            _driver(**kw)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (kw,))


def test_granted_reports_what_the_network_granted_not_what_was_requested():
    drv, fake, _ = _driver(psm=(70 * 3600, 10))
    _attach_with_power(fake, b'AT+CPSMS=1,,,"01000111","00000101"\r')
    assert drv.attach(60000), drv.last_error
    assert (drv.reg.active_time, drv.reg.periodic_tau) == ("00100100", "00100001"), drv.reg
    fake.expect(b"AT+CEREG?\r", READ_GRANTED)
    assert drv.granted() == (True, 240, 3600), drv.reg
    assert drv.last_commands == 1
    fake.verify()


def test_granted_is_false_when_the_network_denies_psm():
    drv, fake, _ = _driver(psm=(3600, 10))
    _attach_with_power(fake, b'AT+CPSMS=1,,,"00000110","00000101"\r', grant=b"\r\n+CEREG:1\r\n")
    assert drv.attach(60000), drv.last_error
    fake.expect(b"AT+CEREG?\r", READ_NO_PSM)
    assert drv.granted() == (False, None, None)
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG:4,1,0216,0153803F,9,,,11100000,00100001\r\n" + s.OK)
    assert drv.granted() == (False, None, 3600)  # T3324 "deactivated": no PSM
    fake.verify()


def test_ask_edrx_sends_the_request_while_registered_and_reads_the_grant():
    # the "PSM denied" fallback of a meter: eDRX asked for after the attach (sent in a TAU)
    drv, fake, _ = _driver(psm=(3600, 10))
    _attach_with_power(fake, b'AT+CPSMS=1,,,"00000110","00000101"\r', grant=b"\r\n+CEREG:1\r\n")
    assert drv.attach(60000), drv.last_error
    fake.expect(b'AT+CEDRXS=2,5,"1101"\r', s.OK)  # 2621.44 s, rounded up from 2600
    assert drv.ask_edrx(2600)
    fake.expect(b"AT+CEDRXRDP\r", b'\r\n+CEDRXRDP:5,"1101","1101","0011"\r\n' + s.OK)
    assert drv.edrx_granted() == (2621440, 10240), drv.edrx_nw
    fake.expect(b'AT+CEDRXS=2,5,"1101"\r', b"\r\n+CME ERROR: 4\r\n")
    assert not drv.ask_edrx(2600) and "refused" in drv.last_error, drv.last_error
    fake.verify()


def test_granted_falls_back_to_the_last_urc_when_the_read_fails():
    drv, fake, _ = _driver(psm=(3600, 10))
    drv.engine.transport.send(GRANT_URC)
    drv.poll(10)
    fake.expect(b"AT+CEREG?\r", s.ERROR)
    assert drv.granted() == (True, 240, 3600)


def test_edrx_grant_from_cedrxrdp_and_the_cedrxp_urc():
    drv, fake, _ = _driver(edrx=20480)
    fake.expect(b"AT+CEDRXRDP\r", b'\r\n+CEDRXRDP:5,"0010","0101","0011"\r\n' + s.OK)
    assert drv.edrx_granted() == (81920, 10240), drv.edrx_nw  # the network's 81.92 s
    fake.send(b'\r\n+CEDRXP:5,"0010","0011","0001"\r\n')
    drv.poll(10)
    assert drv.edrx_nw == (40960, 5120), drv.edrx_nw
    fake.expect(b"AT+CEDRXRDP\r", b"\r\n+CEDRXRDP:0\r\n" + s.OK)
    assert drv.edrx_granted() is None  # the cell does not use eDRX
    fake.verify()


def test_resume_from_psm_probes_past_lost_bytes_and_sends_without_reattach():
    drv, fake, _ = _driver(psm=(3600, 10))
    fake.expect(b"AT\r")  # the module wakes on the first bytes and loses them: no answer
    fake.expect(b"AT\r", s.OK)
    fake.expect(b"AT+CEREG?\r", READ_GRANTED)
    s.send(fake, 1, b"10.0.0.9", 5683, b"hello", flags=0x200)
    assert drv.lifecycle.state == lc.OFF  # a new process after the MCU deep sleep
    assert drv.resume(), drv.last_error
    assert drv.lifecycle.online and drv.last_commands == 3, (
        drv.lifecycle.state,
        drv.last_commands,
    )
    assert drv.sendto(1, "10.0.0.9", 5683, b"hello", flags=0x200) == 5
    fake.verify()  # no ATE0, no CPSMS, no CFUN, no CGATT were written
    assert not [w for w in _writes(fake) if "CFUN" in w or "CGATT" in w]


def test_resume_gives_up_after_bounded_probes_in_bounded_time():
    drv, fake, clock = _driver()
    for _ in range(6):
        fake.expect(b"AT\r")
    assert not drv.resume()
    fake.verify()
    assert "no answer" in drv.last_error and clock.ticks_ms() < 5000, clock.ticks_ms()


def test_resume_waits_for_a_module_that_is_searching_by_itself():
    drv, fake, _ = _driver()
    fake.expect(b"AT\r", s.OK)
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG:2,2\r\n" + s.OK, Later(1500, b"\r\n+CEREG:1\r\n"))
    assert drv.resume(), drv.last_error
    fake.verify()
    assert drv.lifecycle.state == lc.REGISTERED


def test_cfun0_fallback_then_resume_sees_stat_0_and_attach_registers_again():
    drv, fake, _ = _driver(psm=(3600, 10))
    fake.expect(b"AT+CFUN=0\r", b"\r\n+CEREG:0\r\n" + s.OK)
    assert drv.power_down() and drv.lifecycle.state == lc.OFF
    assert drv.last_commands == 1
    # ... MCU deep sleep; the next wake:
    fake.expect(b"AT\r", s.OK)
    fake.expect(b"AT+CEREG?\r", READ_DETACHED)
    assert not drv.resume() and "attach" in drv.last_error, drv.last_error
    assert not drv.lifecycle.online
    _attach_with_power(fake, b'AT+CPSMS=1,,,"00000110","00000101"\r')
    assert drv.attach(60000), drv.last_error
    fake.verify()
    assert drv.lifecycle.online and drv.reg.periodic_tau == "00100001"


def test_power_down_refused_keeps_the_state_and_says_why():
    drv, fake, _ = _driver()
    fake.expect(b"AT+CFUN=0\r", s.ERROR)
    assert not drv.power_down()
    assert drv.last_error == "AT+CFUN=0 refused" and drv.lifecycle.state == lc.OFF
    fake.verify()


def test_resume_after_a_module_reboot_attaches_with_the_full_configuration():
    # the module registered by itself (AUTOCONNECT) but CEREG n is back to 0: it rebooted while
    # the MCU slept and forgot the PSM request and the URC settings -> not "online", attach
    drv, fake, _ = _driver(psm=(3600, 10))
    fake.expect(b"AT\r", s.OK)
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG:0,1\r\n" + s.OK)
    assert not drv.resume() and "rebooted" in drv.last_error, drv.last_error
    assert not drv.lifecycle.online
    _attach_with_power(fake, b'AT+CPSMS=1,,,"00000110","00000101"\r')
    assert drv.attach(60000), drv.last_error
    fake.verify()
