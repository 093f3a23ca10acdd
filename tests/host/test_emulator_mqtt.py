"""The modem's AT MQTT client bridged to a REAL broker (amqtt subprocess on loopback). On a
time master: every request the broker answers is in flight on the module's ``mqttq`` channel
until the answer is read, and what the test's other client publishes is counted on its topic's
channel until the module has it, so device time never moves while an answer is on its way."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from quectel_support import (
    OK,
    hold_until,
    on_wire_at,
    online,
    quectel,
    registered,
    send_data,
)

from host_tools.collector.broker import BrokerProcess, free_port, running_broker
from host_tools.emulator.client import SimPtyClient
from host_tools.simclock.client import SimClient
from tests.support.simdte import EPOCH

BINARY = b'\x00"\r\nOK\r\n+QMTRECV: 0,1,"x","y"\r\n\x1a\xff'


@pytest.fixture(scope="module")
def broker() -> Iterator[BrokerProcess]:
    with running_broker() as b:
        yield b


class Peer:
    """Another MQTT client on the same broker (what the collector would be), a participant of
    the DTE's time master: each publication is counted on its topic's channel before it goes
    (``mqtt:<topic>>``; the module counts ``<`` when it has it). What it receives is read when
    the test looks (a wall wait while the DTE, busy between two calls, holds device time)."""

    def __init__(self, broker: BrokerProcess, topic: str, master: tuple[str, int]) -> None:
        self.sim = SimClient(master, "mqtt-peer")
        self.sim.report(None)
        self.got: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"peer-{time.time()}")
        self.client.on_message = lambda c, u, m: self.got.put((m.topic, bytes(m.payload)))
        subscribed: queue.Queue[int] = queue.Queue()
        self.client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.put(mid)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        subscribed.get(timeout=5)

    def publish(self, topic: str, payload: bytes) -> None:
        self.sim.sent(f"mqtt:{topic}")
        self.sim.report(None)  # before it goes: the master holds time until the module has it
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.sim.close()

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mqtt_up(port: SimPtyClient, broker: BrokerProcess, client_id: str = "meter-1042") -> None:
    """QMTOPEN + QMTCONN as the firmware does them (hex receive format)."""
    assert port.command('AT+QMTCFG="dataformat",0,0,1') == OK
    assert port.command(f'AT+QMTOPEN=0,"127.0.0.1",{broker.port}') == OK
    assert port.read_until(b"+QMTOPEN: 0,") and port.read_until(b"\r\n") == b"0\r\n"
    assert port.command(f'AT+QMTCONN=0,"{client_id}"') == OK
    assert port.read_until(b"+QMTCONN: 0,0,0\r\n", timeout=5)


def test_open_connect_subscribe_publish_in_the_documented_formats(broker):
    with quectel("ec200") as (_emu, port), Peer(broker, "nbkit/+/up", port.master) as peer:
        online(port)
        assert port.command(f'AT+QMTOPEN=0,"127.0.0.1",{broker.port}') == OK
        assert port.read_until(b"+QMTOPEN: 0,0\r\n").endswith(b"\r\n+QMTOPEN: 0,0\r\n")
        assert port.command('AT+QMTCONN=0,"meter-7"') == OK
        assert port.read_until(b"+QMTCONN: 0,0,0\r\n", timeout=5)
        assert port.command('AT+QMTSUB=0,1,"nbkit/7/ack",1') == OK
        assert port.read_until(b"+QMTSUB: 0,1,0,1\r\n", timeout=5)
        # Ctrl-Z form: text up to 0x1A
        after = send_data(port, 'AT+QMTPUB=0,2,1,0,"nbkit/7/up"', b"hello\x1a", b"+QMTPUB")
        assert after == b"\r\nOK\r\n\r\n+QMTPUB"
        assert port.read_until(b"\r\n") == b": 0,2,0\r\n"
        assert peer.got.get(timeout=5) == ("nbkit/7/up", b"hello")
        # length form: exactly len raw bytes, binary-safe
        after = send_data(
            port, f'AT+QMTPUBEX=0,3,1,0,"nbkit/7/up",{len(BINARY)}', BINARY, b": 0,3,0\r\n"
        )
        assert after == b"\r\nOK\r\n\r\n+QMTPUB: 0,3,0\r\n"
        assert peer.got.get(timeout=5) == ("nbkit/7/up", BINARY)
        send_data(port, f'AT+QMTPUB=0,4,1,0,"nbkit/7/up",{len(BINARY)}', BINARY, b"0,4,0\r\n")
        assert peer.got.get(timeout=5) == ("nbkit/7/up", BINARY)


@pytest.mark.parametrize(
    ("cfg", "urc"),
    [
        ('AT+QMTCFG="dataformat",0,0,1', f'"{BINARY.hex().upper()}"'.encode()),
        ('AT+QMTCFG="recv/mode",0,0,1', f'{len(BINARY)},"'.encode() + BINARY + b'"'),
        ("AT", b'"' + BINARY + b'"'),  # text mode: the raw bytes, as the module prints them
    ],
)
def test_incoming_messages_as_qmtrecv_hex_or_raw(broker, cfg, urc):
    with quectel("bc26") as (emu, port), Peer(broker, "nobody/listens", port.master) as peer:
        registered(port)
        assert port.command(cfg) == OK
        assert port.command(f'AT+QMTOPEN=0,"127.0.0.1",{broker.port}') == OK
        port.read_until(b"+QMTOPEN: 0,0\r\n")
        assert port.command('AT+QMTCONN=0,"meter-9"') == OK
        port.read_until(b"+QMTCONN: 0,0,0\r\n", timeout=5)
        assert port.command('AT+QMTSUB=0,5,"nbkit/9/ack",1') == OK
        port.read_until(b"+QMTSUB: 0,5,0,1\r\n", timeout=5)
        t = port.now()
        peer.publish("nbkit/9/ack", BINARY)
        want = b'+QMTRECV: 0,1,"nbkit/9/ack",' + urc + b"\r\n"
        assert port.read_until(want, timeout=5).endswith(b"\r\n" + want)
        assert on_wire_at(port, emu, t, b"\r\n" + want)  # no device time crossing the broker


def test_broker_crash_gives_qmtstat_and_the_client_reconnects(broker):
    with quectel("ec200") as (emu, port):
        online(port)
        mqtt_up(port, broker)
        # SIGKILL + start again on the same port, at an instant nothing is in flight; device
        # time stands until the module has seen its connection go
        broker.restart()
        hold_until(lambda: emu.modem.stats["mqtt_disconnects"] == 1, "the module saw the crash")
        t = port.now()
        stat = b"\r\n+QMTSTAT: 0,1\r\n"
        assert port.read_until(stat, timeout=5) == stat
        assert on_wire_at(port, emu, t, stat)  # at the crash's instant
        assert emu.modem.stats["mqtt_disconnects"] == 1
        assert port.command('AT+QMTCONN=0,"meter-1042"') == b"\r\nERROR\r\n"  # closed: reopen
        mqtt_up(port, broker)
        with Peer(broker, "nbkit/+/up", port.master) as peer:
            send_data(port, 'AT+QMTPUB=0,1,1,0,"nbkit/1042/up",2', b"ok", b"+QMTPUB: 0,1,0\r\n")
            assert peer.got.get(timeout=5) == ("nbkit/1042/up", b"ok")


def test_qmtopen_to_a_port_without_broker_fails_with_minus_1():
    with quectel("ec200") as (_emu, port):
        online(port)
        assert port.command(f'AT+QMTOPEN=0,"127.0.0.1",{free_port()}') == OK
        assert port.read_until(b"+QMTOPEN: 0,-1\r\n")


def test_pdp_loss_drops_the_mqtt_client_with_qmtstat_7(broker):
    with quectel("ec200", faults=[{"kind": "pdpdeact", "at": 600.0}]) as (emu, port):
        online(port)
        mqtt_up(port, broker)
        # at 600 s after power-on (the master's epoch) the link goes first, then the context
        stat = b"\r\n+QMTSTAT: 0,7\r\n"
        assert port.read_until(stat, timeout=700) == stat
        assert on_wire_at(port, emu, EPOCH + 600.0, stat)
        assert port.read_until(b'"pdpdeact",1\r\n') == b'\r\n+QIURC: "pdpdeact",1\r\n'


def test_publish_before_connect_and_bad_msgid_are_errors(broker):
    with quectel("ec200") as (_emu, port):
        online(port)
        assert port.command('AT+QMTPUB=0,1,1,0,"t"') == b"\r\nERROR\r\n"
        mqtt_up(port, broker)
        assert port.command('AT+QMTPUB=0,0,1,0,"t"') == b"\r\nERROR\r\n"  # QoS 1 needs a msgid
        assert port.command('AT+QMTCFG="nonsense",0,1') == b"\r\nERROR\r\n"
        assert port.command('AT+QMTCFG="keepalive",0') == b'\r\n+QMTCFG: "keepalive",120\r\n' + OK
        assert port.command("AT+QMTDISC=0") == OK
        assert port.read_until(b"+QMTDISC: 0,0\r\n")


def test_hex_send_mode_decodes_the_payload_the_firmware_sends(broker):
    with quectel("ec200") as (_emu, port), Peer(broker, "nbkit/+/up", port.master) as peer:
        online(port)
        mqtt_up(port, broker)
        assert port.command('AT+QMTCFG="dataformat",0,1,1') == OK  # as nbkit.modem.mqtt does
        hexdata = BINARY.hex().upper().encode()
        send_data(port, 'AT+QMTPUB=0,7,1,0,"nbkit/5/up"', hexdata + b"\x1a", b"0,7,0\r\n")
        assert peer.got.get(timeout=5) == ("nbkit/5/up", BINARY)
        after = send_data(port, 'AT+QMTPUB=0,8,1,0,"nbkit/5/up"', b"0G\x1a", b"ERROR\r\n")
        assert after == b"\r\nERROR\r\n"  # not hex: refused, nothing published
        after = send_data(port, 'AT+QMTPUB=0,9,1,0,"nbkit/5/up"', b"00\x1b", b"ERROR\r\n")
        assert after == b"\r\nERROR\r\n"  # ESC cancels
        assert peer.got.empty()
