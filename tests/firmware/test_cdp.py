# CoAP to an operator platform on BC95/BC28 (AT+NCDP/NMGS/NNMI): parsers and the Cdp helper
# against scripted Huawei-firmware exchanges (virtual time).
from fakes import Later, modem
from nbkit.lte import cdp
from nbkit.modem.bc95_cdp import Cdp

OK = b"\r\nOK\r\n"


class _Modem:
    # Cdp needs only the engine and clock of the modem it rides on.
    def __init__(self, engine, clock):
        self.engine = engine
        self.clock = clock


def _cdp(ip="10.0.0.5"):
    engine, fake, clock = modem()
    return Cdp(_Modem(engine, clock), ip, 5683), fake, clock


def test_parsers():
    assert cdp.parse_nnmi("+NNMI:2,A101") == b"\xa1\x01"
    assert cdp.parse_nnmi("+NNMI:2,a1") is None  # length and hex disagree
    assert cdp.parse_nnmi("+NNMI") == b""
    assert cdp.parse_nmgr("2,4F4E") == b"ON"
    assert cdp.parse_nmgr("0,") == b"" and cdp.parse_nmgr("0") == b""
    assert cdp.parse_ncdp("+NCDP:49.4.85.232,5683") == ("49.4.85.232", 5683)
    assert cdp.parse_ncdp("+NCDP: 10.0.0.5") == ("10.0.0.5", 5683)
    assert cdp.parse_nmstatus("+NMSTATUS:MO_DATA_ENABLED") == "MO_DATA_ENABLED"
    assert cdp.parse_nsmi("+NSMI:SENT") == "SENT"
    assert cdp.parse_qlwevtind("+QLWEVTIND:3") == 3
    assert cdp.nmgs(b"\x20\x20345") == "AT+NMGS=5,2020333435"
    assert cdp.ncdp("49.4.85.232") == "AT+NCDP=49.4.85.232,5683"
    for bad in (lambda: cdp.nmgs(b""), lambda: cdp.nmgs(bytes(513)), lambda: cdp.ncdp("a,b")):
        try:
            bad()
        except ValueError:
            continue
        raise AssertionError("accepted a bad argument")


def test_setup_sets_the_platform_only_when_it_differs():
    c, fake, _ = _cdp()
    fake.expect(b"AT+NCDP?\r", b"\r\n+NCDP:49.4.85.232,5683\r\n" + OK)
    fake.expect(b"AT+NCDP=10.0.0.5,5683\r", OK)
    fake.expect(b"AT+NSMI=1\r", OK)
    fake.expect(b"AT+NNMI=1\r", OK)
    assert c.setup(), c.last_error
    fake.expect(b"AT+NCDP?\r", b"\r\n+NCDP:10.0.0.5,5683\r\n" + OK)
    fake.expect(b"AT+NSMI=1\r", OK)
    fake.expect(b"AT+NNMI=1\r", OK)
    assert c.setup()
    fake.verify()


def test_nmgs_513_is_retried_until_the_platform_says_ready_then_sent():
    c, fake, clock = _cdp()
    cmd = b"AT+NMGS=3,0D0A1A\r"
    fake.expect(cmd, b"\r\n+CME ERROR: 513\r\n")
    fake.expect(cmd, b"\r\n+CME ERROR:513\r\n", Later(700, b"\r\n+QLWEVTIND:3\r\n"))
    fake.expect(cmd, OK, Later(400, b"\r\n+NSMI:SENT\r\n"))
    t0 = clock.ticks_ms()
    assert c.send(b"\r\n\x1a"), c.last_error
    fake.verify()
    assert c.not_registered == 2 and c.ready
    assert clock.ticks_diff(clock.ticks_ms(), t0) < 4000  # the URC cut the second wait short


def test_nmgs_513_forever_gives_up_in_bounded_time_with_the_status():
    c, fake, clock = _cdp()
    for _ in range(16):
        fake.expect(b"AT+NMGS=1,01\r", b"\r\n+CME ERROR: 513\r\n")
    fake.expect(b"AT+NMSTATUS?\r", b"\r\n+NMSTATUS:REGISTERING\r\n" + OK)
    assert not c.send(b"\x01")
    fake.verify()
    assert "REGISTERING" in c.last_error and clock.ticks_ms() <= 32000, c.last_error


def test_discarded_uplink_is_reported_as_not_sent():
    c, fake, _ = _cdp()
    fake.expect(b"AT+NMGS=1,01\r", OK, Later(300, b"\r\n+NSMI:DISCARDED\r\n"))
    assert not c.send(b"\x01") and c.discarded == 1
    assert c.last_error == "+NSMI:DISCARDED", c.last_error


def test_downlink_pushed_in_nnmi_and_buffered_read_with_nmgr():
    c, fake, _ = _cdp()
    fake.send(b"\r\n+NNMI:4,0D0A4F4B\r\n", after_ms=1200)
    assert c.recv(5000) == [b"\r\nOK"]
    fake.send(b"\r\n+NNMI\r\n", after_ms=100)
    fake.expect(b"AT+NMGR\r", b"\r\n2,4F4E\r\n" + OK)
    fake.expect(b"AT+NMGR\r", b"\r\n0,\r\n" + OK)
    assert c.recv(5000) == [b"ON"]
    fake.send(b"\r\n+NNMI:3,00\r\n")
    assert c.recv(10) == [] and c.inbox_dropped == 1
    fake.verify()
