# Scripted AT MQTT (AT+QMT*, BC26/EC200) exchanges for the MQTT client and link tests
# (MIT licence), in the formats of at-modems.md §3.1 and the hex data format of nbkit.lte.qmt.
from binascii import hexlify

from fakes import Later

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


def connect(
    fake,
    *,
    topics=(b"nbkit/42/ack",),
    first_msgid=1,
    open_result=0,
    closed=True,
    client_id=b"nbkit-42",
    keepalive=120,
):
    # QMTCLOSE of a client that is not open answers ERROR (closed=True), cfg, open, conn, subs.
    if closed:
        fake.expect(b"AT+QMTCLOSE=0\r", ERROR)
    else:
        fake.expect(b"AT+QMTCLOSE=0\r", OK, Later(20, b"\r\n+QMTCLOSE: 0,0\r\n"))
    fake.expect(b'AT+QMTCFG="version",0,4\r', OK)
    fake.expect(b'AT+QMTCFG="keepalive",0,%d\r' % keepalive, OK)
    fake.expect(b'AT+QMTCFG="dataformat",0,1,1\r', OK)
    fake.expect(
        b'AT+QMTOPEN=0,"127.0.0.1",1883\r', OK, Later(400, b"\r\n+QMTOPEN: 0,%d\r\n" % open_result)
    )
    if open_result != 0:
        return
    fake.expect(b'AT+QMTCONN=0,"%s"\r' % client_id, OK, Later(300, b"\r\n+QMTCONN: 0,0,0\r\n"))
    msgid = first_msgid
    for topic in topics:
        fake.expect(
            b'AT+QMTSUB=0,%d,"%s",1\r' % (msgid, topic),
            OK,
            Later(200, b"\r\n+QMTSUB: 0,%d,0,1\r\n" % msgid),
        )
        msgid += 1


def publish(fake, msgid, topic, payload, *, result=0, after_ms=300):
    fake.expect(b'AT+QMTPUB=0,%d,1,0,"%s"\r' % (msgid, topic), b"\r\n> ")
    urc = (
        [] if result is None else [Later(after_ms, b"\r\n+QMTPUB: 0,%d,%d\r\n" % (msgid, result))]
    )
    fake.expect(hexlify(payload).upper() + b"\x1a", OK, *urc)


def recv(fake, msgid, topic, payload, after_ms=0):
    hexed = hexlify(payload).upper()
    fake.send(b'\r\n+QMTRECV: 0,%d,"%s","%s"\r\n' % (msgid, topic, hexed), after_ms)


def disconnect(fake):
    fake.expect(b"AT+QMTDISC=0\r", OK, Later(50, b"\r\n+QMTDISC: 0,0\r\n"))
    fake.expect(b"AT+QMTCLOSE=0\r", ERROR)
