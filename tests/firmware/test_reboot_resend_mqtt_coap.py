# Reboot detection on the MQTT and CoAP-platform links (issue 15, item 3), as
# test_reboot_resend.py does for UDP and TCP: a module reset (RDY on the EC200, REBOOT_CAUSE_*
# on the BC28) under the uplink or in the ack wait takes the MQTT session or the platform
# registration with it; the link comes up again (re-init, attach, reconnect or re-register)
# and the frame goes once more (link.resends). A second reset ends the report: never a loop.
from binascii import hexlify

import bc95_script as b
import ec200_script as s
import mqtt_script as m
from fakes import Later, modem
from nbkit.app.link import LinkError
from nbkit.app.link_cdp import CdpLink
from nbkit.app.link_mqtt import MqttLink
from nbkit.modem.bc95 import Bc95
from nbkit.modem.bc95_cdp import Cdp
from nbkit.modem.ec200 import Ec200
from nbkit.modem.mqtt import MqttClient

HEAPSIZE = "256K"
CRASH = b.CRASH
ACK = b"\x02ack"
DATA = b"\x01\x02"


UP = b"nbkit/42/up"


def _ec200_mqtt_up():
    engine, fake, clock = modem()
    drv = Ec200(engine, clock, apn="cmiot")
    link = MqttLink(drv, MqttClient(engine, clock, "127.0.0.1", 1883, "nbkit-42"), 42)
    s.attach(fake)
    m.connect(fake)
    assert link.up(), drv.last_error
    return link, fake


def _publish_acked(fake, msgid):
    # the publish, its PUBACK, and the collector's ack on the ack topic 300 ms after that
    fake.expect(b'AT+QMTPUB=0,%d,1,0,"%s"\r' % (msgid, UP), b"\r\n> ")
    ack = b'\r\n+QMTRECV: 0,%d,"nbkit/42/ack","%s"\r\n' % (msgid + 1, hexlify(ACK).upper())
    puback = b"\r\n+QMTPUB: 0,%d,0\r\n" % msgid
    fake.expect(hexlify(DATA).upper() + b"\x1a", s.OK, Later(200, puback), Later(500, ack))


def test_ec200_reset_under_an_mqtt_publish_reconnects_and_publishes_the_frame_once_more():
    link, fake = _ec200_mqtt_up()
    fake.expect(b'AT+QMTPUB=0,2,1,0,"%s"\r' % UP, b"\r\nRDY\r\n")  # no prompt: reset
    s.attach(fake)  # the module configured and attached again, a new session
    m.connect(fake, first_msgid=3)
    _publish_acked(fake, 4)
    t0 = link.modem.clock.ticks_ms()
    link.send(DATA)
    assert link.modem.clock.ticks_ms() - t0 < 5000  # RDY ended the prompt wait (engine abort)
    assert link.receive(10000) == [ACK]
    fake.verify()
    assert link.modem.boots == 1 and link.resends == 1 and link.uplinks == 1
    assert link.republished == 0  # not a broker matter


def test_ec200_reset_in_the_mqtt_ack_wait_ends_the_wait_and_publishes_once_more():
    link, fake = _ec200_mqtt_up()
    m.publish(fake, 2, UP, DATA)
    link.send(DATA)
    fake.send(b"\r\nRDY\r\n", after_ms=1500)
    s.attach(fake)
    m.connect(fake, first_msgid=3)
    _publish_acked(fake, 4)
    t0 = link.modem.clock.ticks_ms()
    assert link.receive(10000) == [ACK]
    assert link.modem.clock.ticks_ms() - t0 < 10000  # the reset ended the first wait
    fake.verify()
    assert link.modem.boots == 1 and link.resends == 1 and link.uplinks == 2


def test_ec200_reset_again_under_the_mqtt_resend_ends_the_report_with_link_error():
    link, fake = _ec200_mqtt_up()
    fake.expect(b'AT+QMTPUB=0,2,1,0,"%s"\r' % UP, b"\r\nRDY\r\n")
    s.attach(fake)
    m.connect(fake, first_msgid=3)
    fake.expect(b'AT+QMTPUB=0,4,1,0,"%s"\r' % UP, b"\r\nRDY\r\n")
    try:
        link.send(DATA)
    except LinkError as exc:
        assert "reset" in str(exc) or "rebooted" in str(exc), exc
    else:
        raise AssertionError("a frame lost twice to resets was reported sent")
    fake.verify()
    assert link.resends == 0 and link.uplinks == 0


def _cdp_up(fake):
    # resume() finds the module unregistered (or not configured: rebooted), so up() attaches
    # and the platform settings follow
    fake.expect(b"AT\r", b.OK)
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG:0,0\r\n" + b.OK)
    b.configure(fake)
    b.attach(fake, register_after_ms=100)
    fake.expect(b"AT+NCDP?\r", b"\r\n+NCDP:10.0.0.5,5683\r\n" + b.OK)
    fake.expect(b"AT+NSMI=1\r", b.OK)
    fake.expect(b"AT+NNMI=1\r", b.OK)


def _bc28_cdp_up():
    engine, fake, clock = modem(line_max=2800)
    drv = Bc95(engine, clock, model="bc28")
    link = CdpLink(drv, Cdp(drv, "10.0.0.5"))
    _cdp_up(fake)
    assert link.up(), drv.last_error
    return link, fake


NMGS = b"AT+NMGS=2,0102\r"
SENT = b"\r\n+NSMI:SENT\r\n"
NNMI_ACK = b"\r\n+NNMI:4,0261636B\r\n"


def test_bc28_reboot_under_a_coap_uplink_reinits_registers_and_sends_once_more():
    link, fake = _bc28_cdp_up()
    fake.expect(NMGS, CRASH)  # the banner's OK is no +NSMI: nothing says the message left
    _cdp_up(fake)
    fake.expect(NMGS, b.OK, Later(200, SENT), Later(600, NNMI_ACK))
    link.send(DATA)
    assert link.receive(10000) == [ACK]
    fake.verify()
    assert link.modem.boots == 1 and link.resends == 1 and link.uplinks == 1


def test_bc28_reboot_in_the_coap_ack_wait_ends_the_wait_and_sends_once_more():
    link, fake = _bc28_cdp_up()
    fake.expect(NMGS, b.OK, Later(200, SENT))
    link.send(DATA)
    fake.send(CRASH, after_ms=1500)
    _cdp_up(fake)
    fake.expect(NMGS, b.OK, Later(200, SENT), Later(600, NNMI_ACK))
    t0 = link.modem.clock.ticks_ms()
    assert link.receive(10000) == [ACK]
    assert link.modem.clock.ticks_ms() - t0 < 10000  # the reboot ended the first wait
    fake.verify()
    assert link.modem.boots == 1 and link.resends == 1 and link.uplinks == 2
