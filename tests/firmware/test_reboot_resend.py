# Reboot detection everywhere (issue 15, item 3): a boot banner the driver did not ask for
# (REBOOT_CAUSE_* on the BC95/BC28, RDY on the EC200) during a command or a wait leaves the
# modem state unknown; the link brings it up again (the driver re-inits: probe, configure,
# attach, new socket) and the frame goes out exactly once more, counted in link.resends (the
# duplicates the collector drops by sequence number). A second reboot ends the report (the
# records stay queued): never a loop.
from binascii import hexlify

import bc95_script as b
import ec200_script as s
from fakes import Later, modem
from nbkit.app.link import LinkError, UdpLink
from nbkit.app.link_tcp import TcpLink, pack
from nbkit.modem import lifecycle as lc
from nbkit.modem.bc95 import Bc95
from nbkit.modem.ec200 import Ec200

HEAPSIZE = "256K"
CRASH = b.CRASH
IP = b"10.0.0.9"
ACK = b"\x02ack"
DATA = b"\x01\x02"


def _bc95_udp_up():
    engine, fake, clock = modem(line_max=1100)
    link = UdpLink(Bc95(engine, clock, model="bc28"), "10.0.0.9", 5683)
    b.link_up(fake)
    assert link.up(), link.modem.last_error
    return link, fake, clock


def _nsostf(sock):
    return b"AT+NSOSTF=%d,%s,5683,0x400,%d,%s\r" % (sock, IP, len(DATA), hexlify(DATA).upper())


def _ack_later(fake, sock, ms):
    fake.send(b"\r\n+NSONMI:%d,10.0.0.9,5683,%d,%s\r\n" % (sock, len(ACK), hexlify(ACK)), ms)


def test_bc28_reboot_under_nsost_reinits_and_sends_the_frame_once_more():
    # The banner (and its OK) answers AT+NSOSTF: nothing says the datagram left. The modem is
    # brought up again and the frame goes once more; the ack of the resend is taken.
    link, fake, _ = _bc95_udp_up()
    fake.expect(_nsostf(1), CRASH)
    b.link_up(fake, sock=0)
    b.send(fake, 0, IP, 5683, DATA, flags=0x400)
    link.send(DATA)
    assert link.modem.boots == 1 and link.modem.lifecycle.online
    _ack_later(fake, 0, 300)
    assert link.receive(10000) == [ACK]
    fake.verify()
    assert link.resends == 1 and link.uplinks == 1, (link.resends, link.uplinks)


def test_bc28_reboot_under_nsost_then_in_the_ack_wait_is_not_resent_twice():
    link, fake, _ = _bc95_udp_up()
    fake.expect(_nsostf(1), CRASH)
    b.link_up(fake, sock=0)
    b.send(fake, 0, IP, 5683, DATA, flags=0x400)
    link.send(DATA)
    fake.send(CRASH, after_ms=1000)
    assert link.receive(10000) == []  # the report ends; the records stay queued
    fake.verify()
    assert link.resends == 1 and link.modem.boots == 2


def test_bc28_reboot_under_nsost_and_again_under_the_resend_raises_link_error():
    link, fake, _ = _bc95_udp_up()
    fake.expect(_nsostf(1), CRASH)
    b.link_up(fake, sock=0)
    fake.expect(_nsostf(0), CRASH)
    try:
        link.send(DATA)
    except LinkError as exc:
        assert "rebooted" in str(exc), exc
    else:
        raise AssertionError("a frame lost twice to reboots was reported sent")
    fake.verify()
    assert link.resends == 0 and link.modem.lifecycle.state == lc.REBOOTED


def _ec200_tcp_up():
    engine, fake, clock = modem()
    link = TcpLink(Ec200(engine, clock, apn="cmiot"), "127.0.0.1", 7000)
    s.attach(fake)
    s.open_tcp(fake, 0)
    assert link.up(), link.modem.last_error
    return link, fake


def _ec200_again(fake):
    # after RDY: the stale connection closed, the module configured and attached, a new one
    fake.expect(b"AT+QICLOSE=0\r", s.ERROR)
    s.attach(fake)
    s.open_tcp(fake, 0)


def _send_acked(fake):
    # QISEND of the frame, SEND OK, the collector's ack pushed 300 ms later
    wire = pack(ACK)
    fake.expect(b"AT+QISEND=0,%d\r" % len(pack(DATA)), b"\r\n> ")
    push = b'\r\n+QIURC: "recv",0,%d\r\n' % len(wire) + wire
    fake.expect(pack(DATA), b"\r\nSEND OK\r\n", Later(300, push))


def test_ec200_reset_under_qisend_reinits_and_sends_the_frame_once_more():
    link, fake = _ec200_tcp_up()
    fake.expect(b"AT+QISEND=0,%d\r" % len(pack(DATA)), b"\r\nRDY\r\n")  # no prompt: reset
    _ec200_again(fake)
    _send_acked(fake)
    link.send(DATA)
    assert link.receive(10000) == [ACK]
    fake.verify()
    assert link.modem.boots == 1 and link.resends == 1 and link.uplinks == 1


def test_ec200_reset_in_the_ack_wait_ends_the_wait_and_resends_once():
    link, fake = _ec200_tcp_up()
    s.send(fake, 0, pack(DATA))
    link.send(DATA)
    fake.send(b"\r\nRDY\r\n", after_ms=1500)
    _ec200_again(fake)
    _send_acked(fake)
    assert link.receive(10000) == [ACK]
    fake.verify()
    assert link.modem.boots == 1 and link.resends == 1 and link.uplinks == 2


def test_ec200_reset_while_waiting_for_qiopen_ends_the_wait_at_once():
    engine, fake, clock = modem()
    drv = Ec200(engine, clock, apn="cmiot")
    s.attach(fake)
    assert drv.attach(), drv.last_error
    cmd = b'AT+QIOPEN=1,0,"TCP","127.0.0.1",7000,0,1\r'
    fake.expect(cmd, s.OK, Later(500, b"\r\nRDY\r\n"))
    t0 = clock.ticks_ms()
    try:
        drv.open("TCP", "127.0.0.1", 7000)
    except Exception as exc:
        assert "RDY" in str(exc), exc
    else:
        raise AssertionError("opened a socket on a module that reset")
    assert clock.ticks_ms() - t0 < 5000, clock.ticks_ms() - t0  # not the 60 s QIOPEN wait
    assert drv.lifecycle.state == lc.REBOOTED
    fake.verify()
