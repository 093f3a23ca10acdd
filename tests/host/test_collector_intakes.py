"""Collector intakes over TCP, MQTT (real broker) and CoAP (real platform server): the same
verification, dedup and acks as UDP, because they all call Collector.handle."""

from __future__ import annotations

import io
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiocoap
import paho.mqtt.client as paho
import pytest
from nbkit.proto import codes, frame
from paho.mqtt.enums import CallbackAPIVersion

from host_tools.collector.broker import BrokerProcess, running_broker
from host_tools.collector.coap import PlatformThread
from host_tools.collector.db import Store
from host_tools.collector.intake import SharedCollector, serve_mqtt, serve_tcp
from host_tools.collector.server import Collector

KEY = bytes(range(16))
KEYS = {1042: KEY, 7: bytes(range(16, 32))}
T = 1764000000


def readings(seq0: int, n: int) -> list[tuple[int, int, int, int]]:
    return [(seq0 + i, T + 900 * i, codes.WATER_L, 1000 + 10 * i) for i in range(n)]


def forged(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


class Running:
    """A collector with one intake serving in a thread."""

    def __init__(self, tmp: Path, serve: Callable[..., None], host: str, port: int) -> None:
        self.collector = Collector(Store(tmp / "c.db"), KEYS, out=io.StringIO())
        self.collector.log = lambda msg: None
        self.shared = SharedCollector(self.collector)
        self.stop = threading.Event()
        ready: queue.Queue[Any] = queue.Queue()

        def main() -> None:
            try:
                serve(self.shared, host, port, self.stop, ready.put)
            except Exception as exc:
                ready.put(exc)

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        got = ready.get(timeout=10)
        if isinstance(got, Exception):
            raise got
        self.addr: tuple[str, int] = got

    def rows(self) -> list[int]:
        return [r["seq"] for r in self.collector.store.rows()]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.collector.store.close()


# -- TCP --------------------------------------------------------------------------------------


@pytest.fixture
def tcp(tmp_path: Path) -> Iterator[Running]:
    srv = Running(tmp_path, serve_tcp, "127.0.0.1", 0)
    yield srv
    srv.close()


def _framed(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def _read_frame(sock: socket.socket) -> bytes:
    head = sock.recv(2, socket.MSG_WAITALL)
    (size,) = struct.unpack(">H", head)
    return sock.recv(size, socket.MSG_WAITALL)


def test_tcp_length_prefixed_frames_are_acked_the_same_way(tcp: Running) -> None:
    one, _ = frame.encode_data(1042, KEY, readings(1, 3))
    two, _ = frame.encode_data(1042, KEY, readings(4, 2))
    with socket.create_connection(tcp.addr, timeout=2) as sock:
        sock.sendall(_framed(one) + _framed(two)[:5])  # the second frame arrives in pieces
        assert frame.decode_ack(_read_frame(sock), KEY, 1042) == (1, 3)
        sock.sendall(_framed(two)[5:])
        assert frame.decode_ack(_read_frame(sock), KEY, 1042) == (4, 5)
        sock.sendall(_framed(forged(one)) + _framed(one))  # forged: no ack; replay: re-acked
        assert frame.decode_ack(_read_frame(sock), KEY, 1042) == (1, 3)
    assert tcp.rows() == [1, 2, 3, 4, 5]
    assert tcp.collector.counts["forged"] == 1
    assert tcp.collector.counts["duplicate"] == 1


def test_tcp_zero_or_huge_length_closes_the_connection(tcp: Running) -> None:
    with socket.create_connection(tcp.addr, timeout=2) as sock:
        sock.sendall(b"\xff\xff" + b"x" * 10)
        assert sock.recv(10) == b""  # closed by the collector
    with socket.create_connection(tcp.addr, timeout=2) as sock:
        data, _ = frame.encode_data(1042, KEY, readings(9, 1))
        sock.sendall(_framed(data))  # a new connection works
        assert frame.decode_ack(_read_frame(sock), KEY, 1042) == (9, 9)
    assert tcp.collector.counts["malformed"] == 1


# -- MQTT -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broker() -> Iterator[BrokerProcess]:
    with running_broker() as b:
        yield b


class Device:
    """A device-side MQTT client: publishes on nbkit/<id>/up, collects acks."""

    def __init__(self, broker: BrokerProcess, device: int) -> None:
        self.acks: queue.Queue[bytes] = queue.Queue()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"dev-{device}-{time.time()}"
        )
        self.client.on_message = lambda c, u, m: self.acks.put(bytes(m.payload))
        done: queue.Queue[int] = queue.Queue()
        self.client.on_subscribe = lambda c, u, mid, rcs, p: done.put(mid)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(f"nbkit/{device}/ack", qos=1)
        done.get(timeout=5)

    def publish(self, topic: str, data: bytes) -> None:
        self.client.publish(topic, data, qos=1).wait_for_publish(5)

    def ack(self, timeout: float = 5.0) -> bytes | None:
        try:
            return self.acks.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_mqtt_uplinks_are_verified_deduplicated_and_acked_on_the_device_topic(
    tmp_path: Path, broker: BrokerProcess
) -> None:
    srv = Running(tmp_path, serve_mqtt, broker.host, broker.port)
    dev = Device(broker, 1042)
    try:
        data, _ = frame.encode_data(1042, KEY, readings(10, 4))
        dev.publish("nbkit/1042/up", data)
        ack = dev.ack()
        assert ack is not None and frame.decode_ack(ack, KEY, 1042) == (10, 13)
        dev.publish("nbkit/1042/up", data)  # replay: re-acked, stored once
        assert dev.ack() == ack
        dev.publish("nbkit/1042/up", forged(data))
        dev.publish("nbkit/7/up", data)  # device 1042's frame on device 7's topic
        dev.publish("nbkit/1042/up", b"\x11junk")  # not a frame at all
        assert dev.ack(timeout=0.3) is None
        assert srv.rows() == [10, 11, 12, 13]
        counts = srv.collector.counts
        assert (counts["accepted"], counts["duplicate"], counts["forged"]) == (1, 1, 1)
        assert counts["topic_mismatch"] == 1
        assert counts["truncated"] == 1
    finally:
        dev.close()
        srv.close()


# -- CoAP -------------------------------------------------------------------------------------


def _coap(platform: PlatformThread, path: str, payload: bytes) -> aiocoap.Message:
    async def go() -> aiocoap.Message:
        ctx = await aiocoap.Context.create_client_context()
        try:
            host, port = platform.platform.host, platform.platform.port
            msg = aiocoap.Message(
                code=aiocoap.POST, payload=payload, uri=f"coap://{host}:{port}/{path}"
            )
            return await ctx.request(msg).response
        finally:
            await ctx.shutdown()

    return platform.call(go())


def test_coap_platform_forwards_registered_devices_uplinks_and_answers_the_ack(
    tmp_path: Path,
) -> None:
    collector = Collector(Store(tmp_path / "c.db"), KEYS, out=io.StringIO())
    collector.log = lambda msg: None
    shared = SharedCollector(collector)
    with PlatformThread(lambda data, peer: shared.handle(data, peer)[0]) as platform:
        data, _ = frame.encode_data(1042, KEY, readings(3, 2))
        refused = _coap(platform, "t/d?ep=867726031076062", data)
        assert refused.code == aiocoap.FORBIDDEN  # not registered yet
        assert _coap(platform, "rd?ep=867726031076062", b"").code == aiocoap.CREATED
        reply = _coap(platform, "t/d?ep=867726031076062", data)
        assert reply.code == aiocoap.CHANGED
        assert frame.decode_ack(reply.payload, KEY, 1042) == (3, 4)
        forged_reply = _coap(platform, "t/d?ep=867726031076062", forged(data))
        assert forged_reply.code == aiocoap.CHANGED and forged_reply.payload == b""
        replayed = _coap(platform, "t/d?ep=867726031076062", data)
        assert replayed.payload == reply.payload  # re-acked, not stored again
    assert [r["seq"] for r in collector.store.rows()] == [3, 4]
    assert (collector.counts["forged"], collector.counts["duplicate"]) == (1, 1)
    collector.store.close()
