# The AT MQTT parsers (nbkit.lte.qmt) and the client over a scripted BC26/EC200 (virtual time).
import mqtt_script as m
from fakes import Later, modem
from nbkit.lte import qmt
from nbkit.modem.mqtt import MqttClient

HEAPSIZE = "192K"
ACK = b"nbkit/42/ack"
UP = b"nbkit/42/up"
FRAME = b"\x1a\r\nOK\x00\x22,\xff"  # Ctrl-Z, CR/LF, "OK", NUL, a quote, a comma


def _client(**kw):
    engine, fake, clock = modem(kw.pop("split", 0))
    mq = MqttClient(engine, clock, "127.0.0.1", 1883, "nbkit-42", **kw)
    mq.subscribe_on_connect("nbkit/42/ack")
    return mq, fake, clock


def _connected(**kw):
    mq, fake, clock = _client(**kw)
    m.connect(fake)
    assert mq.ensure(), mq.last_error
    return mq, fake, clock


def test_recv_parsed_by_counting_quotes_in_every_layout():
    msg = qmt.parse_recv('+QMTRECV: 0,3,"nbkit/42/ack","0A0D4F4B"')
    assert (msg.client, msg.msgid, msg.topic, msg.payload, msg.length) == (
        0,
        3,
        "nbkit/42/ack",
        "0A0D4F4B",
        None,
    ), msg
    msg = qmt.parse_recv('+QMTRECV: 1,0,"a,b",5,"x,"y""')
    assert (msg.topic, msg.payload, msg.length) == ("a,b", 'x,"y"', 5), msg
    msg = qmt.parse_recv('+QMTRECV: 0,7,"t",ABCD')
    assert (msg.payload, msg.length) == ("ABCD", None), msg
    for bad in ('+QMTRECV: 0,"t","x"', '+QMTRECV: 0,1,"t"', '+QMTRECV: 0,1,"t","x', "+QMTRECV: x"):
        assert qmt.parse_recv(bad) is None, bad


def test_result_parsers_and_builders():
    assert qmt.parse_pair("+QMTOPEN: 0,0", qmt.QMTOPEN) == (0, 0)
    assert qmt.parse_pair("+QMTOPEN: 0,-1", qmt.QMTOPEN) == (0, -1)
    assert qmt.parse_pair("+QMTSTAT: 0,1", qmt.QMTSTAT) == (0, 1)
    assert qmt.parse_ints("+QMTCONN: 0,0,0", qmt.QMTCONN, 3) == (0, 0, 0)
    assert qmt.parse_ints("+QMTPUB: 0,5,1,2", qmt.QMTPUB, 4) == (0, 5, 1, 2)
    assert qmt.parse_ints("+QMTPUB: 0,5,0", qmt.QMTPUB, 4) == (0, 5, 0, None)
    assert qmt.pub_cmd(0, 9, 1, 0, "a/b") == 'AT+QMTPUB=0,9,1,0,"a/b"'
    assert qmt.conn_cmd(0, "id", "u", "p") == 'AT+QMTCONN=0,"id","u","p"'
    assert qmt.pub_data(b"\x1a\x00") == b"1A00\x1a"
    for bad in (
        lambda: qmt.pub_cmd(0, 0, 1, 0, "t"),
        lambda: qmt.pub_cmd(0, 3, 0, 0, "t"),
        lambda: qmt.sub_cmd(0, 1, 'a"b'),
        lambda: qmt.cfg_keepalive(0, 4000),
    ):
        try:
            bad()
        except ValueError:
            continue
        raise AssertionError("accepted a bad argument")


def test_connect_configures_hex_data_opens_connects_and_subscribes():
    mq, fake, _ = _client(split=6)
    m.connect(fake)
    assert mq.ensure() and mq.connected, mq.last_error
    fake.verify()
    assert mq.connects == 1 and mq.reconnects == 0


def test_qos1_publish_of_binary_bytes_with_ctrl_z_is_confirmed_by_puback():
    mq, fake, _ = _connected()
    m.publish(fake, 2, UP, FRAME)
    assert mq.publish("nbkit/42/up", FRAME), mq.last_error
    fake.verify()
    assert fake.writes[-1] == b"1A0D0A4F4B0022" + b"2CFF\x1a", fake.writes[-1]


def test_publish_waits_through_retransmissions_and_reports_failure():
    mq, fake, _ = _connected()
    fake.expect(b'AT+QMTPUB=0,2,1,0,"nbkit/42/up"\r', b"\r\n> ")
    fake.expect(
        b"AB\x1a",
        m.OK,
        Later(5000, b"\r\n+QMTPUB: 0,2,1,1\r\n"),
        Later(10000, b"\r\n+QMTPUB: 0,2,2\r\n"),
    )
    assert not mq.publish("nbkit/42/up", b"\xab")
    assert "publish failed" in mq.last_error, mq.last_error


def test_qmtstat_mid_publish_fails_it_and_ensure_reconnects_with_backoff():
    mq, fake, clock = _connected()
    m.publish(fake, 2, UP, b"\x01", result=None)
    fake.send(b"\r\n+QMTSTAT: 0,1\r\n", after_ms=500)
    assert not mq.publish("nbkit/42/up", b"\x01")
    assert not mq.connected and mq.last_stat == 1 and "QMTSTAT" in mq.last_error, mq.last_error
    # the broker is down for the first try, back for the second (after the 1 s backoff)
    m.connect(fake, topics=(), open_result=-1, closed=False)
    t0 = clock.ticks_ms()
    m.connect(fake, first_msgid=3)
    assert mq.ensure(), mq.last_error
    assert clock.ticks_diff(clock.ticks_ms(), t0) >= 1000
    assert mq.reconnects == 1 and mq.disconnects == 1
    m.publish(fake, 4, UP, b"\x01")
    assert mq.publish("nbkit/42/up", b"\x01")
    fake.verify()


def test_ensure_gives_up_after_bounded_tries_with_capped_backoff():
    mq, fake, clock = _client(tries=4, backoff_cap_ms=2000)
    for _ in range(4):
        m.connect(fake, topics=(), open_result=5)
    t0 = clock.ticks_ms()
    assert not mq.ensure()
    fake.verify()
    waited = clock.ticks_diff(clock.ticks_ms(), t0)
    assert 1000 + 2000 + 2000 <= waited < 1000 + 2000 + 2000 + 4 * 1000, waited
    assert "network disconnected" in mq.last_error, mq.last_error


def test_received_messages_are_hex_decoded_and_bounded():
    mq, fake, _ = _connected()
    m.recv(fake, 1, ACK, FRAME, after_ms=800)
    assert mq.messages(5000) == [("nbkit/42/ack", FRAME)]
    for i in range(10):
        m.recv(fake, i + 2, ACK, bytes([i]))
    fake.send(b'\r\n+QMTRECV: 0,20,"nbkit/42/ack","not hex"\r\n')
    got = mq.messages(10)
    assert len(got) == 8 and mq.inbox_dropped == 3, (got, mq.inbox_dropped)


def test_messages_returns_early_when_the_connection_drops():
    mq, fake, clock = _connected()
    fake.send(b"\r\n+QMTSTAT: 0,2\r\n", after_ms=100)
    t0 = clock.ticks_ms()
    assert mq.messages(30000) == []
    assert not mq.connected and clock.ticks_diff(clock.ticks_ms(), t0) < 1000


def test_disconnect_is_polite_and_never_raises():
    mq, fake, _ = _connected()
    m.disconnect(fake)
    mq.disconnect()
    fake.verify()
    assert not mq.connected
