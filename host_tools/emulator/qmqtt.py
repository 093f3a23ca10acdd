"""The module's MQTT client (``AT+QMT...``, at-modems.md §3.1) bridged to a REAL broker.

Each client index 0-5 owns a paho-mqtt client driven by the emulator's reactor (paho's
external-loop callbacks: its socket is registered with the reactor; ``loop_misc`` runs every
half wall second for keep-alive), so the broker sees a real MQTT 3.1.1 client.

* ``AT+QMTCFG="<name>",<id>[,<values>]`` stores ``keepalive`` (s), ``session`` (clean 0/1),
  ``version``, ``timeout``, ``will``, ``recv/mode`` (``<in_urc 0|1>,<len_enable 0|1>``) and
  ``dataformat`` (``<send 0 text|1 hex>,<recv 0 text|1 hex>``); the query form answers
  ``+QMTCFG: "<name>",<values>``.
* ``AT+QMTOPEN=<id>,"<host>",<port>`` -> ``OK`` then ``+QMTOPEN: <id>,<result>`` (0 ok,
  -1 network open failed, 2 id in use, 3 PDP context not active, 4 name not resolved).
* ``AT+QMTCONN=<id>,"<client id>"[,"<user>","<pass>"]`` -> ``OK`` then
  ``+QMTCONN: <id>,0,<CONNACK code>`` (``<id>,2`` when the CONNECT could not be sent).
* ``AT+QMTSUB=<id>,<msgid>,"<topic>",<qos>[,...]`` -> ``+QMTSUB: <id>,<msgid>,0,<granted>``;
  ``AT+QMTUNS`` -> ``+QMTUNS: <id>,<msgid>,0``.
* ``AT+QMTPUB=<id>,<msgid>,<qos>,<retain>,"<topic>"`` -> prompt, payload up to Ctrl-Z (ESC
  cancels); with a trailing ``,<len>`` (and ``AT+QMTPUBEX=...,<len>``) exactly len raw bytes.
  Then ``OK`` and ``+QMTPUB: <id>,<msgid>,0`` when sent (QoS 0) or PUBACKed (QoS 1/2);
  ``+QMTPUB: <id>,<msgid>,2`` for messages still unacknowledged when the link breaks.
* Incoming: ``+QMTRECV: <id>,<msgid>,"<topic>"[,<len>],"<payload>"``. The payload is the raw
  bytes (latin-1) in text mode and upper-case hex with ``dataformat`` recv 1. nbkit frames are
  binary, so the firmware sets ``AT+QMTCFG="dataformat",<id>,1,1``: it sends the frame as hex
  text up to Ctrl-Z and receives hex (text mode cannot carry a ``"``, Ctrl-Z or CR/LF byte).
* The broker closing the link (restart, crash) -> ``+QMTSTAT: <id>,1``; PDP context loss ->
  ``+QMTSTAT: <id>,7``; the client is then closed: the DTE opens and connects it again.
"""

from __future__ import annotations

import ipaddress
import selectors
import socket
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from host_tools.emulator.atparse import Command
from host_tools.emulator.modem import CmdError, Handler, Modem, Reply
from host_tools.emulator.network import Uplink
from host_tools.emulator.quectel import BAD_PARAMS, QuectelModem, _args, _int, q
from host_tools.emulator.reactor import Timer

MAX_CLIENTS = 6
MAX_TOPIC = 256
CFG_DEFAULTS: dict[str, list[str]] = {
    "version": ["4"],
    "keepalive": ["120"],
    "session": ["1"],
    "timeout": ["5", "3", "0"],
    "will": ["0"],
    "recv/mode": ["0", "0"],
    "dataformat": ["0", "0"],
}


@dataclass
class MqttLink:
    """One client index: configuration, its paho client and what waits for an answer."""

    idx: int
    cfg: dict[str, list[str]] = field(
        default_factory=lambda: {k: list(v) for k, v in CFG_DEFAULTS.items()}
    )
    state: str = "idle"  # idle | opened | connecting | connected
    host: str = ""
    port: int = 0
    client: paho.Client | None = None
    pubs: dict[int, int] = field(default_factory=dict)  # paho mid -> AT msgid
    subs: dict[int, tuple[str, int]] = field(default_factory=dict)  # paho mid -> (kind, msgid)
    tick: Timer | None = None
    waiting: int = 0  # requests the broker has not answered (counted for a time master)


class MqttClients:
    """The six MQTT client slots of one Quectel modem."""

    def __init__(self, modem: QuectelModem) -> None:
        self.m = modem
        self.reactor = modem.reactor
        self.links = [MqttLink(i) for i in range(MAX_CLIENTS)]
        self.stats = {"mqtt_published": 0, "mqtt_received": 0, "mqtt_disconnects": 0}
        modem.stats.update(self.stats)

    def count(self, key: str) -> None:
        self.m.stats[key] = self.m.stats.get(key, 0) + 1

    # Under a time master (host_tools/collector/mqtt_sim.py has the collector's side): every
    # request the broker answers (CONNECT, SUBSCRIBE, UNSUBSCRIBE, a QoS 1 PUBLISH) is in
    # flight on this client's own channel (Reactor.asked) until its answer is read, so time
    # never moves past an answer on its way; a publication counts on its topic's channel
    # (``mqtt:<topic>``), sent by the publisher, received by the subscriber.

    def _ask(self, link: MqttLink) -> None:
        link.waiting += 1
        self.reactor.asked(f"mqttq{link.idx}")

    def _answered(self, link: MqttLink, n: int = 1) -> None:
        n = min(n, link.waiting)
        link.waiting -= n
        self.reactor.answered(f"mqttq{link.idx}", n)

    # -- open / connect -----------------------------------------------------------------------

    def open(self, link: MqttLink, host: str, port: int) -> None:
        if link.state != "idle":
            self.m.urc(f"+QMTOPEN: {link.idx},2")
            return
        if not self.m.context_active(self.m.persona.contexts[0]):
            self.m.urc(f"+QMTOPEN: {link.idx},3")
            return
        try:
            ip = str(ipaddress.IPv4Address(host))
        except ValueError:
            self.m.bridge.resolve(
                host, lambda ips: self._probe(link, ips[0] if ips else None, port)
            )
            return
        self._probe(link, ip, port)

    def _probe(self, link: MqttLink, ip: str | None, port: int) -> None:
        # the TCP connection of QMTOPEN; paho opens its own one at QMTCONN, when the client
        # id it must send is known
        if ip is None:
            self.m.urc(f"+QMTOPEN: {link.idx},4")
            return
        try:
            with socket.create_connection((ip, port), timeout=1.0):
                pass
        except OSError:
            self.m.urc(f"+QMTOPEN: {link.idx},-1")
            return
        link.state, link.host, link.port = "opened", ip, port
        self.m.urc(f"+QMTOPEN: {link.idx},0")

    def connect(self, link: MqttLink, client_id: str, user: str | None, pwd: str | None) -> None:
        clean = link.cfg["session"][0] != "0"
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean,
            reconnect_on_failure=False,
        )
        if user is not None:
            client.username_pw_set(user, pwd)
        client.on_socket_open = lambda c, u, s: self._opened(link, c, s)
        client.on_socket_register_write = lambda c, u, s: self._watch(link, c, s, True)
        client.on_socket_unregister_write = lambda c, u, s: self._watch(link, c, s, False)
        client.on_socket_close = lambda c, u, s: self.reactor.remove_handler(s)
        client.on_connect = lambda c, u, f, rc, p: self._connack(link, rc)
        client.on_disconnect = lambda c, u, f, rc, p: self._lost(link, c, 1)
        client.on_subscribe = lambda c, u, mid, rcs, p: self._suback(link, mid, rcs)
        client.on_unsubscribe = lambda c, u, mid, rcs, p: self._suback(link, mid, rcs)
        client.on_publish = lambda c, u, mid, rc, p: self._puback(link, mid)
        client.on_message = lambda c, u, msg: self._message(link, msg)
        link.client, link.state = client, "connecting"
        try:
            client.connect(link.host, link.port, keepalive=int(link.cfg["keepalive"][0]))
        except OSError:
            link.client, link.state = None, "opened"
            self.m.urc(f"+QMTCONN: {link.idx},2")
            return
        self._ask(link)  # the CONNACK
        self._tick(link)

    def _opened(self, link: MqttLink, client: paho.Client, sock: Any) -> None:
        # paho writes a packet in pieces: without NODELAY, Nagle + delayed ACK add ~40 ms each
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._watch(link, client, sock, False)

    def _watch(self, link: MqttLink, client: paho.Client, sock: Any, want_write: bool) -> None:
        if link.client is not client or sock.fileno() < 0:
            return  # a client being torn down
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0)
        self.reactor.add_handler(sock, events, lambda mask: self._io(link, mask))

    def _io(self, link: MqttLink, mask: int) -> None:
        client = link.client
        if client is None:
            return
        if mask & selectors.EVENT_READ:
            client.loop_read()
        if mask & selectors.EVENT_WRITE and link.client is client:
            client.loop_write()

    def _tick(self, link: MqttLink) -> None:
        if link.client is None:
            return
        link.client.loop_misc()
        if link.client is not None:  # keep-alive pings run on wall time, like the broker's
            link.tick = self.reactor.call_later(
                0.5 * getattr(self.reactor.clock, "scale", 1.0), lambda: self._tick(link)
            )

    def _connack(self, link: MqttLink, rc: Any) -> None:
        self._answered(link)
        code = int(getattr(rc, "value", rc))
        if code == 0:
            link.state = "connected"
            self.m.urc(f"+QMTCONN: {link.idx},0,0")
        else:
            self.m.urc(f"+QMTCONN: {link.idx},0,{code if code < 6 else 5}")

    def _lost(self, link: MqttLink, client: paho.Client, code: int) -> None:
        if link.client is not client:
            return  # a client the DTE closed on purpose
        self.count("mqtt_disconnects")
        self.m.spy.record("mqtt_lost", b"", peer=f"code {code}")  # at once: the URC waits
        self._fail_pending(link)
        self._reset(link)
        self.m.urc(f"+QMTSTAT: {link.idx},{code}")

    def _fail_pending(self, link: MqttLink) -> None:
        for msgid in link.pubs.values():
            self.m.urc(f"+QMTPUB: {link.idx},{msgid},2")
        link.pubs.clear()
        link.subs.clear()

    def _reset(self, link: MqttLink) -> None:
        self._answered(link, link.waiting)  # the link is gone: no answer will come
        client, link.client = link.client, None
        if link.tick is not None:
            link.tick.cancel()
            link.tick = None
        if client is not None:
            for name in (
                "on_socket_open",
                "on_socket_register_write",
                "on_socket_unregister_write",
            ):
                setattr(client, name, None)
            sock = client.socket()
            if sock is not None:
                self.reactor.remove_handler(sock)
                try:
                    sock.close()
                except OSError:
                    pass
        link.state = "idle"

    # -- traffic ------------------------------------------------------------------------------

    def subscribe(self, link: MqttLink, msgid: int, topics: list[tuple[str, int]]) -> None:
        assert link.client is not None
        rc, mid = link.client.subscribe(topics)
        if rc != paho.MQTT_ERR_SUCCESS or mid is None:
            self.m.urc(f"+QMTSUB: {link.idx},{msgid},2")
            return
        link.subs[mid] = ("SUB", msgid)
        self._ask(link)
        for topic, _ in topics:  # declared: publications to it are awaited
            self.reactor.count(f"mqtt:{topic}<", 0)

    def unsubscribe(self, link: MqttLink, msgid: int, topics: list[str]) -> None:
        assert link.client is not None
        rc, mid = link.client.unsubscribe(topics)
        if rc != paho.MQTT_ERR_SUCCESS or mid is None:
            self.m.urc(f"+QMTUNS: {link.idx},{msgid},2")
            return
        link.subs[mid] = ("UNS", msgid)
        self._ask(link)

    def _suback(self, link: MqttLink, mid: int, rcs: list[Any]) -> None:
        kind, msgid = link.subs.pop(mid, ("", 0))
        if kind:
            self._answered(link)
        if kind == "SUB":
            granted = ",".join(str(int(getattr(rc, "value", rc))) for rc in rcs)
            self.m.urc(f"+QMTSUB: {link.idx},{msgid},0,{granted}")
        elif kind == "UNS":
            self.m.urc(f"+QMTUNS: {link.idx},{msgid},0")

    def publish(
        self, link: MqttLink, msgid: int, *, qos: int, retain: bool, topic: str, payload: bytes
    ) -> bool:
        if link.client is None or link.state != "connected":
            return False
        if self.m.net.uplink(Uplink(len(payload), 0, lambda: None)) == 30:
            return False
        info = link.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return False
        self.count("mqtt_published")
        self.reactor.count(f"mqtt:{topic}>")
        self.m.spy.record("mqtt_published", payload, peer=topic)
        if qos == 0:
            self.m.urc(f"+QMTPUB: {link.idx},{msgid},0")
        else:
            link.pubs[info.mid] = msgid
            self._ask(link)  # the PUBACK
        return True

    def _puback(self, link: MqttLink, mid: int) -> None:
        msgid = link.pubs.pop(mid, None)
        if msgid is not None:
            self._answered(link)
            self.m.urc(f"+QMTPUB: {link.idx},{msgid},0")

    def _message(self, link: MqttLink, msg: paho.MQTTMessage) -> None:
        self.count("mqtt_received")
        self.reactor.count(f"mqtt:{msg.topic}<")
        self.m.spy.record("mqtt_received", bytes(msg.payload), peer=msg.topic)
        payload = bytes(msg.payload)
        text = (
            payload.hex().upper()
            if link.cfg["dataformat"][1] == "1"
            else payload.decode("latin-1")
        )
        msgid = msg.mid if msg.qos else 0
        length = f"{len(payload)}," if link.cfg["recv/mode"][1:] == ["1"] else ""
        self.m.urc(f'+QMTRECV: {link.idx},{msgid},"{msg.topic}",{length}"{text}"')

    # -- teardown -----------------------------------------------------------------------------

    def disconnect(self, link: MqttLink) -> None:
        client = link.client
        link.client = None  # on_disconnect of a wanted disconnect is not a +QMTSTAT
        if client is not None:
            client.disconnect()
            link.client = client
            self._fail_pending(link)
            self._reset(link)
        link.state = "idle"

    def context_lost(self) -> None:
        for link in self.links:
            if link.state != "idle":
                client = link.client
                if client is None:
                    link.state = "idle"
                    self.m.urc(f"+QMTSTAT: {link.idx},7")
                else:
                    self._lost(link, client, 7)

    def close_all(self) -> None:
        for link in self.links:
            self._reset(link)
            link.pubs.clear()
            link.subs.clear()


# -- handlers ---------------------------------------------------------------------------------


def _link(m: Modem, text: str) -> MqttLink:
    return q(m).session(MqttClients).links[_int(text, 0, MAX_CLIENTS - 1)]


def qmtcfg(m: Modem, cmd: Command) -> Reply:
    args = _args(cmd, 2, 6)
    name = args[0].lower()
    if name not in CFG_DEFAULTS:
        raise CmdError(BAD_PARAMS)
    link = _link(m, args[1])
    if len(args) == 2:
        return Reply([f'+QMTCFG: "{name}",' + ",".join(link.cfg[name])])
    if name != "will":
        for value in args[2:]:
            if value:
                _int(value, 0, 65535)
    link.cfg[name] = list(args[2:]) + link.cfg[name][len(args) - 2 :]
    return Reply()


def qmtopen(m: Modem, cmd: Command) -> Reply:
    args = _args(cmd, 3, 3)
    link = _link(m, args[0])
    q(m).session(MqttClients).open(link, args[1], _int(args[2], 1, 65535))
    return Reply()


def qmtconn(m: Modem, cmd: Command) -> Reply:
    args = _args(cmd, 2, 4)
    link = _link(m, args[0])
    if link.state != "opened" or not args[1]:
        raise CmdError(None)
    user = args[2] if len(args) > 2 else None
    pwd = args[3] if len(args) > 3 else None
    q(m).session(MqttClients).connect(link, args[1], user, pwd)
    return Reply()


def qmtsub(m: Modem, cmd: Command) -> Reply:
    args = _args(cmd, 4, 12)
    link = _link(m, args[0])
    msgid = _int(args[1], 1, 65535)
    if link.state != "connected" or len(args) % 2:
        raise CmdError(None)
    topics = []
    for i in range(2, len(args), 2):
        if not args[i] or len(args[i]) > MAX_TOPIC:
            raise CmdError(BAD_PARAMS)
        topics.append((args[i], _int(args[i + 1], 0, 2)))
    q(m).session(MqttClients).subscribe(link, msgid, topics)
    return Reply()


def qmtuns(m: Modem, cmd: Command) -> Reply:
    args = _args(cmd, 3, 7)
    link = _link(m, args[0])
    msgid = _int(args[1], 1, 65535)
    if link.state != "connected":
        raise CmdError(None)
    q(m).session(MqttClients).unsubscribe(link, msgid, args[2:])
    return Reply()


def _publish(m: Modem, args: list[str], length: int | None) -> Reply:
    link = _link(m, args[0])
    msgid = _int(args[1], 0, 65535)
    qos = _int(args[2], 0, 2)
    retain = _int(args[3], 0, 1) == 1
    topic = args[4]
    if link.state != "connected" or (qos == 0) != (msgid == 0) or not topic:
        raise CmdError(None)
    mq = q(m)

    def done(payload: bytes | None) -> None:
        if payload is not None and link.cfg["dataformat"][0] == "1":
            try:
                payload = bytes.fromhex(payload.decode("ascii"))
            except ValueError:
                payload = None
        if payload is None or not mq.session(MqttClients).publish(
            link, msgid, qos=qos, retain=retain, topic=topic, payload=payload
        ):
            mq.final("ERROR")
        else:
            mq.final("OK")

    return mq.expect_payload(length, done)


def qmtpub(m: Modem, cmd: Command) -> Reply:
    args = _args(cmd, 5, 6)
    length = _int(args[5], 1, 4096) if len(args) == 6 else None
    return _publish(m, args, length)


def qmtpubex(m: Modem, cmd: Command) -> Reply:
    args = _args(cmd, 6, 6)
    return _publish(m, args, _int(args[5], 1, 4096))


def qmtdisc(m: Modem, cmd: Command) -> Reply:
    link = _link(m, _args(cmd, 1, 1)[0])
    q(m).session(MqttClients).disconnect(link)
    m.urc(f"+QMTDISC: {link.idx},0")
    return Reply()


def qmtclose(m: Modem, cmd: Command) -> Reply:
    link = _link(m, _args(cmd, 1, 1)[0])
    q(m).session(MqttClients).disconnect(link)
    m.urc(f"+QMTCLOSE: {link.idx},0")
    return Reply()


COMMANDS: dict[str, Handler] = {
    "+QMTCFG": qmtcfg,
    "+QMTOPEN": qmtopen,
    "+QMTCONN": qmtconn,
    "+QMTSUB": qmtsub,
    "+QMTUNS": qmtuns,
    "+QMTPUB": qmtpub,
    "+QMTPUBEX": qmtpubex,
    "+QMTDISC": qmtdisc,
    "+QMTCLOSE": qmtclose,
}
