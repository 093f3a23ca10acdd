# The transports behind the app's four link calls (up / send / receive / down): TCP on Cat1,
# MQTT over AT+QMT, CoAP platform via NMGS/NNMI, and the factory that picks them by config.
from binascii import hexlify

import bc95_script as b
import ec200_script as s
import mqtt_script as m
from fakes import Later, modem
from nbkit.app.link import LinkError, UdpLink
from nbkit.app.link_cdp import CdpLink
from nbkit.app.link_mqtt import MqttLink
from nbkit.app.link_tcp import QiUdpLink, TcpLink, Unframer, pack
from nbkit.app.links import make_link, make_modem
from nbkit.modem.bc95 import Bc95
from nbkit.modem.bc95_cdp import Cdp
from nbkit.modem.ec200 import Ec200
from nbkit.modem.mqtt import MqttClient
from nbkit.store import config

HEAPSIZE = "512K"  # everything compiled from source: the links pull in every profile
FRAME = b'\x01\r\nOK\r\n+QIURC: "recv",0,9\r\n\x1a'  # what a line parser would trip on
ACK = b"\x02ack\r\nOK"


def _ec200(split=0):
    engine, fake, clock = modem(split)
    return Ec200(engine, clock, apn="cmiot"), fake


def test_unframer_reassembles_frames_split_anyhow_and_drops_a_broken_stream():
    rx = Unframer()
    stream = pack(b"abc") + pack(FRAME) + pack(b"z")
    for i in range(len(stream)):
        assert rx.feed(stream[i : i + 1])
    assert rx.frames() == [b"abc", FRAME, b"z"]
    assert rx.feed(pack(b"q") + pack(b"rs"))
    assert rx.frames() == [b"q", b"rs"]
    assert not rx.feed(b"\x02\x01") and rx.errors == 1 and rx.buf == b""  # 513 > MAX_FRAME
    assert not rx.feed(b"\x00\x00") and rx.errors == 2  # zero length
    for bad in (b"", bytes(513)):
        try:
            pack(bad)
        except ValueError:
            continue
        raise AssertionError("packed a bad frame")


def test_tcp_link_four_calls_carry_length_prefixed_binary_frames():
    modem_, fake = _ec200(split=5)
    link = TcpLink(modem_, "127.0.0.1", 7000)
    s.attach(fake)
    s.open_tcp(fake, 0)
    assert link.up(), modem_.last_error
    s.send(fake, 0, pack(FRAME))
    link.send(FRAME, last=True, expect_reply=True)
    wire = pack(ACK) + pack(b"second")
    s.push(fake, 0, wire[:4], after_ms=500)  # the ack split over two pushes
    s.push(fake, 0, wire[4:], after_ms=700, tail=b'\r\n+QIURC: "closed",0\r\n')
    assert link.receive(10000) == [ACK, b"second"]
    assert link.used and link.granted() == (False, None, None)  # Cat1: no PSM requested
    fake.expect(b"AT+QICLOSE=0\r", s.OK)
    fake.expect(b"AT+QSCLK=1\r", s.OK)
    link.down()
    fake.verify()
    assert (link.uplinks, link.bytes_up, link.bytes_down) == (1, len(FRAME), len(ACK) + 6)


def test_tcp_link_receive_times_out_empty_and_a_bad_length_drops_the_connection():
    modem_, fake = _ec200()
    link = TcpLink(modem_, "127.0.0.1", 7000, sleep_after=False)
    s.attach(fake)
    s.open_tcp(fake, 0)
    assert link.up()
    assert link.receive(3000) == []
    s.push(fake, 0, b"\xff\xffjunk")
    fake.expect(b"AT+QICLOSE=0\r", s.OK)
    assert link.receive(3000) == [] and link.stream_errors == 1 and link.sock is None
    try:
        link.send(b"x")
    except LinkError:
        pass
    else:
        raise AssertionError("sent on a dropped connection")
    fake.verify()


def test_tcp_link_up_fails_cleanly_when_the_server_refuses():
    modem_, fake = _ec200()
    link = TcpLink(modem_, "127.0.0.1", 7000)
    s.attach(fake)
    s.open_tcp(fake, 0, err=566)
    fake.expect(b"AT+QICLOSE=0\r", s.OK)
    s.open_tcp(fake, 0, err=566)
    assert not link.up()
    assert "566" in modem_.last_error, modem_.last_error
    fake.verify()


def test_cat1_udp_link_sends_one_frame_per_datagram_without_a_prefix():
    modem_, fake = _ec200(split=4)
    link = QiUdpLink(modem_, "127.0.0.1", 5683, sleep_after=False)
    s.attach(fake)
    fake.expect(
        b'AT+QIOPEN=1,0,"UDP","127.0.0.1",5683,0,1\r', s.OK, Later(100, b"\r\n+QIOPEN: 0,0\r\n")
    )
    assert link.up(), modem_.last_error
    s.send(fake, 0, FRAME)
    link.send(FRAME)
    s.push(fake, 0, ACK, after_ms=300)
    s.push(fake, 0, b"\x00\x05", after_ms=310)  # would be a bad length prefix on TCP
    assert link.receive(5000) == [ACK]  # returns with the first datagram
    assert link.receive(5000) == [b"\x00\x05"]
    fake.expect(b"AT+QICLOSE=0\r", s.OK)
    link.down()
    fake.verify()


def _mqtt_link():
    modem_, fake = _ec200()
    client = MqttClient(modem_.engine, modem_.clock, "127.0.0.1", 1883, "nbkit-42")
    link = MqttLink(modem_, client, 42)
    s.attach(fake)
    m.connect(fake)
    assert link.up(), modem_.last_error
    return link, fake


def test_mqtt_link_four_calls_publish_up_and_take_acks_from_the_ack_topic():
    link, fake = _mqtt_link()
    m.publish(fake, 2, b"nbkit/42/up", FRAME)
    link.send(FRAME)
    m.recv(fake, 1, b"nbkit/42/other", b"nope", after_ms=300)
    m.recv(fake, 2, b"nbkit/42/ack", ACK, after_ms=600)
    assert link.receive(10000) == [ACK]
    m.disconnect(fake)
    fake.expect(b"AT+QSCLK=1\r", s.OK)
    link.down()
    fake.verify()


def test_mqtt_link_republishes_after_a_qmtstat_disconnect():
    link, fake = _mqtt_link()
    m.publish(fake, 2, b"nbkit/42/up", FRAME, result=None)
    fake.send(b"\r\n+QMTSTAT: 0,1\r\n", after_ms=400)
    m.connect(fake, first_msgid=3, closed=False)
    m.publish(fake, 4, b"nbkit/42/up", FRAME)
    link.send(FRAME)
    fake.verify()
    assert link.republished == 1 and link.client.reconnects == 1


def test_mqtt_link_send_raises_when_never_confirmed_and_nothing_is_claimed_sent():
    link, fake = _mqtt_link()
    link.client.tries = 1
    m.publish(fake, 2, b"nbkit/42/up", b"x", result=None)
    fake.send(b"\r\n+QMTSTAT: 0,7\r\n", after_ms=400)
    m.connect(fake, topics=(), open_result=3, closed=False)
    try:
        link.send(b"x")
    except LinkError as exc:
        assert "PDP activation failed" in str(exc), exc
    else:
        raise AssertionError("an unconfirmed publish passed")
    assert link.uplinks == 0


def test_mqtt_link_receive_reconnects_once_after_a_drop():
    link, fake = _mqtt_link()
    fake.send(b"\r\n+QMTSTAT: 0,2\r\n", after_ms=100)
    m.connect(fake, first_msgid=2, closed=False)
    m.recv(fake, 5, b"nbkit/42/ack", ACK, after_ms=3000)
    assert link.receive(10000) == [ACK]
    fake.verify()


def _bc95_cdp():
    engine, fake, clock = modem(line_max=2800)
    modem_ = Bc95(engine, clock, model="bc28")
    link = CdpLink(modem_, Cdp(modem_, "10.0.0.5"))
    return link, fake


def test_cdp_link_four_calls_over_nmgs_and_nnmi():
    link, fake = _bc95_cdp()
    fake.expect(b"AT\r", b.OK)  # resume(): the module answers but is not registered,
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG:0,0\r\n" + b.OK)  # so up() attaches
    b.configure(fake)
    b.attach(fake, register_after_ms=100)
    fake.expect(b"AT+NCDP?\r", b"\r\n+NCDP:10.0.0.5,5683\r\n" + b.OK)
    fake.expect(b"AT+NSMI=1\r", b.OK)
    fake.expect(b"AT+NNMI=1\r", b.OK)
    assert link.up(), link.modem.last_error
    fake.expect(
        b"AT+NMGS=2,0D0A\r", b"\r\n+CME ERROR: 513\r\n", Later(300, b"\r\n+QLWEVTIND:3\r\n")
    )
    fake.expect(b"AT+NMGS=2,0D0A\r", b.OK, Later(200, b"\r\n+NSMI:SENT\r\n"))
    link.send(b"\r\n")
    fake.send(b"\r\n+NNMI:8,0261636B0D0A4F4B\r\n", after_ms=900)
    assert link.receive(10000) == [ACK]
    link.down()
    fake.verify()


CRASH = b.CRASH
IP = b"10.0.0.9"


def _bc95_udp_up():
    # A UdpLink whose BC28 attaches in up() (resume finds it unregistered), socket 1 open.
    engine, fake, clock = modem(line_max=1100)
    link = UdpLink(Bc95(engine, clock, model="bc28"), "10.0.0.9", 5683)
    b.link_up(fake)
    assert link.up(), link.modem.last_error
    return link, fake, clock


def _ack_later(fake, sock, ms):
    fake.send(b"\r\n+NSONMI:%d,10.0.0.9,5683,%d,%s\r\n" % (sock, len(ACK), hexlify(ACK)), ms)


def test_udp_link_resends_once_after_a_modem_reboot_during_the_ack_wait():
    # The REBOOT_CAUSE banner 2 s into the 10 s ack wait: the wait ends there, the modem is
    # brought up again (probe, configure, attach, new socket) and the frame goes once more.
    link, fake, clock = _bc95_udp_up()
    b.send(fake, 1, IP, 5683, b"\x01\x02", flags=0x400)
    link.send(b"\x01\x02")
    fake.send(CRASH, after_ms=2000)
    b.link_up(fake, sock=0)
    b.send(fake, 0, IP, 5683, b"\x01\x02", flags=0x400)
    t0 = clock.ticks_ms()
    _ack_later(fake, 0, 8000 + 500)  # 500 ms after the resend (the fake's clock from here)
    assert link.receive(10000) == [ACK], link.modem.last_error
    fake.verify()
    assert link.resends == 1 and link.uplinks == 2, (link.resends, link.uplinks)
    assert clock.ticks_ms() - t0 < 10000, clock.ticks_ms() - t0  # not the whole first wait


def test_udp_link_releases_right_after_the_send_when_the_collector_was_silent():
    # release_early (the reporter sets it after an unanswered report): NSOSTF flag 0x200, so
    # the RRC goes at once instead of waiting ~20 s for an ack that is unlikely; an ack that
    # does come reaches the idle module by paging and is read as usual.
    link, fake, _ = _bc95_udp_up()
    link.release_early = True
    b.send(fake, 1, IP, 5683, b"\x01\x02", flags=0x200)
    link.send(b"\x01\x02")
    _ack_later(fake, 1, 3000)
    assert link.receive(10000) == [ACK], link.modem.last_error
    fake.verify()


def test_udp_link_release_early_releases_after_frames_before_the_last_too():
    # the first frame of a backlog may be the one left unanswered: not ~20 s connected for it
    link, fake, _ = _bc95_udp_up()
    link.release_early = True
    b.send(fake, 1, IP, 5683, b"\x01", flags=0x200)
    link.send(b"\x01", last=False)
    fake.verify()


def test_udp_link_resends_only_once_when_the_modem_reboots_again():
    link, fake, _ = _bc95_udp_up()
    b.send(fake, 1, IP, 5683, b"\x01\x02", flags=0x400)
    link.send(b"\x01\x02")
    fake.send(CRASH, after_ms=2000)
    b.link_up(fake, sock=0)
    b.send(fake, 0, IP, 5683, b"\x01\x02", flags=0x400)
    fake.send(CRASH, after_ms=4000)
    assert link.receive(10000) == []
    fake.verify()
    assert link.resends == 1 and link.uplinks == 2, (link.resends, link.uplinks)


def test_cdp_link_send_raises_when_the_platform_never_registers():
    link, fake = _bc95_cdp()
    link.ready = True
    for _ in range(16):
        fake.expect(b"AT+NMGS=1,01\r", b"\r\n+CME ERROR: 513\r\n")
    fake.expect(b"AT+NMSTATUS?\r", b"\r\n+NMSTATUS:INIT_FAILED\r\n" + b.OK)
    try:
        link.send(b"\x01")
    except LinkError as exc:
        assert "INIT_FAILED" in str(exc), exc
    else:
        raise AssertionError("sent without registration")


def _cfg(**kw):
    cfg = {"device_id": 42, "key": "00" * 16, "server_host": "127.0.0.1", "server_port": 7000}
    cfg.update(kw)
    return config.validate(cfg)


def test_make_link_chooses_by_transport_and_refuses_impossible_pairs():
    engine, _, clock = modem()
    ec = make_modem("ec200", engine, clock, _cfg())
    bc = make_modem("bc28", engine, clock, _cfg())
    assert isinstance(ec, Ec200) and isinstance(bc, Bc95)
    assert isinstance(make_link(_cfg(), bc), UdpLink)
    assert isinstance(make_link(_cfg(transport="tcp"), ec), TcpLink)
    assert isinstance(make_link(_cfg(transport="mqtt", server_port=1883), ec), MqttLink)
    assert isinstance(make_link(_cfg(transport="mqtt"), bc), MqttLink)
    assert isinstance(make_link(_cfg(transport="coap", server_port=5683), bc), CdpLink)
    assert isinstance(make_link(_cfg(), ec), QiUdpLink)
    for cfg, mod in ((_cfg(transport="tcp"), bc), (_cfg(transport="coap"), ec)):
        try:
            make_link(cfg, mod)
        except ValueError:
            continue
        raise AssertionError("accepted %s on %s" % (cfg["transport"], mod.model))


def test_config_defaults_keep_old_configs_valid_and_check_the_new_keys():
    cfg = _cfg()
    assert cfg["transport"] == "udp" and cfg["mqtt_keepalive_s"] == 120, cfg
    assert cfg["mqtt_user"] == "" and cfg["mqtt_password"] == "", cfg
    for bad in ({"transport": "sms"}, {"mqtt_user": 'a"b'}, {"mqtt_keepalive_s": 5}):
        try:
            _cfg(**bad)
        except config.ConfigError as exc:
            assert list(bad)[0] in str(exc), exc
            continue
        raise AssertionError("accepted %r" % (bad,))
