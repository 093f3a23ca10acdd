"""More ways in: TCP (length-prefixed frames), MQTT (through a broker) and CoAP (a platform).

Every intake hands each uplink to the one :meth:`Collector.handle` (verification, dedup,
storage, the ack decision: see the package docstring) under one lock, so UDP, TCP, MQTT and
CoAP uplinks of the same device dedup against each other, and only carries the answer back:

* **TCP** (``serve_tcp``): each frame is a 2-byte big-endian length then the frame, both ways
  (the firmware's Cat1 TCP link uses the same framing). A length of 0 or above
  ``MAX_TCP_FRAME`` closes the connection (a broken stream cannot be resynchronised). Up to
  ``MAX_TCP_CLIENTS`` connections at once; an idle one is closed after ``TCP_IDLE_S``
  (:mod:`.tcp`). Under the rig's time master it is served by the UDP intake's loop, its bytes
  counted for the master (``SharedCollector.sim_extras``).
* **MQTT** (``serve_mqtt``): subscribes ``nbkit/+/up`` with QoS 1; the ack goes to
  ``nbkit/<device id>/ack`` with QoS 1 (device id in decimal). A frame published on another
  device's topic is refused (``topic_mismatch``). Reconnects and resubscribes by itself when
  the broker goes away (e.g. restarts).
* **CoAP** (:mod:`host_tools.collector.coap`): the operator-platform stand-in forwards each
  uplink here and answers the device with the ack.
"""

from __future__ import annotations

import os
import selectors
import socket
import threading
from collections.abc import Callable
from typing import Any

from nbkit.proto import frame

from host_tools.collector.server import Collector
from host_tools.collector.tcp import TcpIntake

UP_TOPIC = "nbkit/+/up"
TOPIC_MISMATCH = "topic_mismatch"

Ready = Callable[[tuple[str, int]], None]


class SharedCollector:
    """A collector several intake threads share: ``handle`` runs under one lock."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.lock = threading.Lock()
        self._waker = _Waker()
        #: under a time master: intakes the UDP intake's participant loop serves beside its
        #: own socket (one participant for the whole collector); the waker first, so an
        #: uplink another thread handled (the CoAP platform's) wakes the loop at once to
        #: report idle again, instead of at its next poll
        self.sim_extras: list[Any] = [self._waker]

    def handle(self, data: bytes, peer: str) -> tuple[bytes | None, str]:
        with self.lock:
            if self.collector.sim is not None:  # input after `now`: its sender got `go` first
                self.collector.sim.go()
            try:
                return self.collector.handle(data, peer)
            finally:
                if self.collector.sim is not None:
                    self._waker.poke()

    def refuse(self, reason: str, message: str) -> None:
        with self.lock:
            self.collector.counts[reason] += 1
            self.collector.log(f"collector: rejected {reason}: {message}")


class _Waker:
    """A pipe in the participant loop's select: poked after an uplink was handled, so the
    loop reports idle again at once (an intake in the shape :func:`serve_udp`'s extras have)."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)

    def poke(self) -> None:
        try:
            os.write(self._w, b"!")
        except BlockingIOError:
            pass  # already poked: one wake-up is enough

    def sockets(self) -> list[Any]:
        return [self._r]

    def on_ready(self, sock: Any) -> None:
        try:
            os.read(self._r, 4096)
        except BlockingIOError:
            pass

    def next_expiry(self) -> float | None:
        return None

    def expire(self) -> None:
        pass


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

    extras = shared.sim_extras
    serve(shared.collector, host, port, stop, ready, handle=shared.handle, extras=extras)


# -- TCP --------------------------------------------------------------------------------------


def serve_tcp(
    shared: SharedCollector,
    host: str,
    port: int,
    stop: threading.Event,
    ready: Ready | None = None,
) -> None:
    """Accept TCP clients until ``stop``; every complete frame is handled, acks sent back
    (:class:`host_tools.collector.tcp.TcpIntake` on its own thread, wall-clock idle timeout)."""
    tcp = TcpIntake(shared, host, port)
    sel = selectors.DefaultSelector()
    watched: set[socket.socket] = set()
    try:
        if ready:
            ready(tcp.address())
        while not stop.is_set():
            now = set(tcp.sockets())
            for sock in watched - now:
                sel.unregister(sock)
            for sock in now - watched:
                sel.register(sock, selectors.EVENT_READ)
            watched = now
            for key, _ in sel.select(0.05):
                tcp.on_ready(key.fileobj)  # type: ignore[arg-type]
            tcp.expire()
    finally:
        sel.close()
        tcp.close()


# -- MQTT -------------------------------------------------------------------------------------


def ack_topic(device: int) -> str:
    return f"nbkit/{device}/ack"


def mqtt_uplink(shared: SharedCollector, client: Any, msg: Any) -> str | None:
    """Handle one message on the uplink topic: the ack is published on the device's ack topic,
    which is returned (None when nothing was published)."""
    parts = msg.topic.split("/")
    payload = bytes(msg.payload)
    try:
        device = frame.parse(payload)[1]
    except frame.FrameError:
        device = None  # handle() counts why
    if device is not None and parts[1] != str(device):
        shared.refuse(TOPIC_MISMATCH, f"device {device}'s frame on {msg.topic}")
        return None
    reply, _ = shared.handle(payload, f"mqtt:{msg.topic}")
    if reply is None or device is None:
        return None
    topic = ack_topic(device)
    client.publish(topic, reply, qos=1)
    return topic


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
        mqtt_uplink(shared, c, msg)

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
