"""More ways in: TCP (length-prefixed frames), MQTT (through a broker) and CoAP (a platform).

Every intake hands each uplink to the one :meth:`Collector.handle` (verification, dedup,
storage, the ack decision: see the package docstring) under one lock, so UDP, TCP, MQTT and
CoAP uplinks of the same device dedup against each other, and only carries the answer back:

* **TCP** (``serve_tcp``): each frame is a 2-byte big-endian length then the frame, both ways
  (the firmware's Cat1 TCP link uses the same framing). A length of 0 or above
  ``MAX_TCP_FRAME`` closes the connection (a broken stream cannot be resynchronised). Up to
  ``MAX_TCP_CLIENTS`` connections at once; an idle one is closed after ``TCP_IDLE_S``.
* **MQTT** (``serve_mqtt``): subscribes ``nbkit/+/up`` with QoS 1; the ack goes to
  ``nbkit/<device id>/ack`` with QoS 1 (device id in decimal). A frame published on another
  device's topic is refused (``topic_mismatch``). Reconnects and resubscribes by itself when
  the broker goes away (e.g. restarts).
* **CoAP** (:mod:`host_tools.collector.coap`): the operator-platform stand-in forwards each
  uplink here and answers the device with the ack.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from nbkit.proto import frame

from host_tools.collector.server import Collector

UP_TOPIC = "nbkit/+/up"
MAX_TCP_FRAME = 4096
MAX_TCP_CLIENTS = 32
TCP_IDLE_S = 300.0
TOPIC_MISMATCH = "topic_mismatch"

Ready = Callable[[tuple[str, int]], None]


class SharedCollector:
    """A collector several intake threads share: ``handle`` runs under one lock."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.lock = threading.Lock()

    def handle(self, data: bytes, peer: str) -> tuple[bytes | None, str]:
        with self.lock:
            return self.collector.handle(data, peer)

    def refuse(self, reason: str, message: str) -> None:
        with self.lock:
            self.collector.counts[reason] += 1
            self.collector.log(f"collector: rejected {reason}: {message}")


# -- UDP --------------------------------------------------------------------------------------


def serve_udp(
    shared: SharedCollector,
    host: str,
    port: int,
    stop: threading.Event,
    ready: Ready | None = None,
) -> None:
    """The UDP intake (:func:`host_tools.collector.server.serve`) in the intake shape."""
    from host_tools.collector.server import serve

    serve(shared.collector, host, port, stop, ready, handle=shared.handle)


# -- TCP --------------------------------------------------------------------------------------


class _Conn:
    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock, self.peer = sock, peer
        self.buf = bytearray()
        self.seen = time.monotonic()


def serve_tcp(
    shared: SharedCollector,
    host: str,
    port: int,
    stop: threading.Event,
    ready: Ready | None = None,
) -> None:
    """Accept TCP clients until ``stop``; every complete frame is handled, acks sent back."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sel = selectors.DefaultSelector()
    conns: dict[socket.socket, _Conn] = {}
    try:
        listener.bind((host, port))
        listener.listen(8)
        listener.setblocking(False)
        sel.register(listener, selectors.EVENT_READ)
        if ready:
            ready(listener.getsockname())
        while not stop.is_set():
            for key, _ in sel.select(0.05):
                if key.fileobj is listener:
                    _accept(listener, sel, conns, shared)
                else:
                    conn = conns[key.fileobj]  # type: ignore[index]
                    if not _serve_conn(conn, shared):
                        _close(conn, sel, conns)
            now = time.monotonic()
            for conn in [c for c in conns.values() if now - c.seen > TCP_IDLE_S]:
                _close(conn, sel, conns)
    finally:
        for conn in list(conns.values()):
            _close(conn, sel, conns)
        sel.close()
        listener.close()


def _accept(
    listener: socket.socket,
    sel: selectors.BaseSelector,
    conns: dict[socket.socket, _Conn],
    shared: SharedCollector,
) -> None:
    try:
        sock, addr = listener.accept()
    except OSError:
        return
    if len(conns) >= MAX_TCP_CLIENTS:
        shared.collector.log(f"collector: tcp client {addr} refused, {len(conns)} connected")
        sock.close()
        return
    sock.setblocking(False)
    conns[sock] = _Conn(sock, f"tcp:{addr[0]}:{addr[1]}")
    sel.register(sock, selectors.EVENT_READ)


def _close(conn: _Conn, sel: selectors.BaseSelector, conns: dict[socket.socket, _Conn]) -> None:
    conns.pop(conn.sock, None)
    with contextlib.suppress(KeyError, ValueError):
        sel.unregister(conn.sock)
    conn.sock.close()


def _serve_conn(conn: _Conn, shared: SharedCollector) -> bool:
    """Read what is there and handle complete frames; False closes the connection."""
    try:
        data = conn.sock.recv(8192)
    except (BlockingIOError, InterruptedError):
        return True
    except OSError:
        return False
    if not data:
        return False
    conn.seen = time.monotonic()
    conn.buf += data
    while len(conn.buf) >= 2:
        (size,) = struct.unpack_from(">H", conn.buf)
        if not 0 < size <= MAX_TCP_FRAME:
            shared.refuse(frame.MALFORMED, f"{conn.peer} sent a frame length of {size}")
            return False
        if len(conn.buf) < 2 + size:
            break
        payload = bytes(conn.buf[2 : 2 + size])
        del conn.buf[: 2 + size]
        reply, _ = shared.handle(payload, conn.peer)
        if reply is not None:
            try:
                conn.sock.setblocking(True)
                conn.sock.settimeout(2.0)
                conn.sock.sendall(struct.pack(">H", len(reply)) + reply)
                conn.sock.setblocking(False)
            except OSError:
                return False
    return True


# -- MQTT -------------------------------------------------------------------------------------


def ack_topic(device: int) -> str:
    return f"nbkit/{device}/ack"


def serve_mqtt(
    shared: SharedCollector,
    host: str,
    port: int,
    stop: threading.Event,
    ready: Ready | None = None,
    *,
    client_id: str = "nbkit-collector",
) -> None:
    """Subscribe to the uplink topic through the broker at host:port until ``stop``."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.reconnect_delay_set(min_delay=0.05, max_delay=0.25)  # type: ignore[arg-type]
    subscribed = threading.Event()

    def on_connect(c: paho.Client, u: object, f: object, rc: object, p: object) -> None:
        c.subscribe(UP_TOPIC, qos=1)

    def on_subscribe(c: paho.Client, u: object, mid: int, rcs: object, p: object) -> None:
        subscribed.set()
        shared.collector.log(f"collector: mqtt subscribed {UP_TOPIC} on {host}:{port}")

    failed: list[BaseException] = []  # an error in paho's thread, raised in the intake's own

    def on_message(c: paho.Client, u: object, msg: paho.MQTTMessage) -> None:
        try:
            _on_message(c, msg)
        except Exception as exc:  # paho would end its loop thread silently: restart instead
            failed.append(exc)

    def _on_message(c: paho.Client, msg: paho.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        payload = bytes(msg.payload)
        try:
            device = frame.parse(payload)[1]
        except frame.FrameError:
            device = None  # handle() counts why
        if device is not None and parts[1] != str(device):
            shared.refuse(TOPIC_MISMATCH, f"device {device}'s frame on {msg.topic}")
            return
        reply, _ = shared.handle(payload, f"mqtt:{msg.topic}")
        if reply is not None and device is not None:
            c.publish(ack_topic(device), reply, qos=1)

    def on_socket_open(c: paho.Client, u: object, sock: Any) -> None:
        # paho writes a packet in pieces: without NODELAY, Nagle + delayed ACK add ~40 ms
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    client.on_socket_open = on_socket_open
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise OSError(f"no MQTT broker at {host}:{port}: {exc}") from exc
    client.loop_start()
    try:
        if not subscribed.wait(5.0):
            raise OSError(f"the broker at {host}:{port} did not confirm the subscription")
        if ready:
            ready((host, port))
        while not stop.wait(0.1):
            if failed:
                raise failed[0]
            thread = getattr(client, "_thread", None)
            if thread is not None and not thread.is_alive():
                raise OSError("the MQTT network loop thread ended")
    finally:
        client.disconnect()
        client.loop_stop()
