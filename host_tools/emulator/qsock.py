"""Quectel ``AT+QI...`` sockets over REAL TCP/UDP sockets on the host (at-modems.md §3.2, §4).

* ``AT+QIOPEN=<ctx>,<id>,"TCP"|"UDP","<host>",<port>[,<lport>[,<mode>]]`` -> ``OK``, then
  ``+QIOPEN: <id>,<err>`` (0 ok; 561 context not active, 563 id in use, 565 DNS failed,
  566 connect failed, e.g. refused). Mode 0 buffers (``+QIURC: "recv",<id>`` then
  ``AT+QIRD``), mode 1 pushes (``+QIURC: "recv",<id>,<len>`` + exactly len raw bytes, up to
  1460 per indication); transparent mode 2 is not emulated (ERROR).
* ``AT+QISEND=<id>,<len>`` -> prompt, exactly len raw bytes -> ``SEND OK`` / ``SEND FAIL``;
  ``AT+QISEND=<id>`` takes bytes up to Ctrl-Z (ESC cancels); ``AT+QISEND=<id>,0`` ->
  ``+QISEND: <sent>,<acked>,<unacked>`` (loopback: everything acked at once).
* ``AT+QIRD=<id>[,<len>]`` -> ``+QIRD: <n>`` (UDP: ``+QIRD: <n>,"<ip>",<port>``), CRLF, n raw
  bytes, ``OK``; ``AT+QIRD=<id>,0`` -> ``+QIRD: <total>,<read>,<unread>``.
* Peer close -> ``+QIURC: "closed",<id>`` (the id stays taken until ``AT+QICLOSE=<id>``).
* ``AT+QIDNSGIP=<ctx>,"<host>"`` -> ``OK``, then ``+QIURC: "dnsgip",0,<count>,600`` and one
  ``+QIURC: "dnsgip","<ip>"`` per address (host resolver; ``localhost`` -> 127.0.0.1), or
  ``+QIURC: "dnsgip",565``.

Every buffer is bounded: a buffer-mode socket stops reading (TCP back-pressure) at
``RX_LIMIT`` bytes, unsent TCP bytes beyond ``TX_LIMIT`` make ``SEND FAIL``.
"""

from __future__ import annotations

import errno
import ipaddress
import selectors
import socket
from collections import deque
from dataclasses import dataclass, field

from host_tools.emulator.atparse import Command
from host_tools.emulator.modem import CmdError, Handler, Modem, Reply
from host_tools.emulator.network import Uplink
from host_tools.emulator.quectel import BAD_PARAMS, QuectelModem, _args, _int, q

MAX_IDS = 12
RX_LIMIT = 65536
TX_LIMIT = 65536
PUSH_CHUNK = 1460
QIRD_DEFAULT = 1500
# error codes of +QIOPEN (at-modems.md §1.7)
ERR_OPEN_PDP = 561
ERR_ID_IN_USE = 563
ERR_DNS = 565
ERR_CONNECT = 566


@dataclass
class QSocket:
    """One connect id: its real socket, mode and buffers."""

    cid: int
    service: str  # "TCP" | "UDP"
    mode: int  # 0 buffer, 1 direct push
    sock: socket.socket | None = None
    state: str = "opening"  # opening | open | closed
    peer: tuple[str, int] = ("", 0)
    rx: bytearray = field(default_factory=bytearray)
    rx_dgrams: deque[tuple[bytes, str, int]] = field(default_factory=deque)
    tx: bytearray = field(default_factory=bytearray)
    received: int = 0
    read: int = 0
    sent: int = 0
    paused: bool = False

    def buffered(self) -> int:
        return len(self.rx) + sum(len(d[0]) for d in self.rx_dgrams)


class QSocketTable:
    """Connect ids 0..11 of one Quectel modem."""

    def __init__(self, modem: QuectelModem) -> None:
        self.m = modem
        self.reactor = modem.reactor
        self.socks: dict[int, QSocket] = {}

    # -- open ---------------------------------------------------------------------------------

    def open(self, ctx: int, cid: int, *, service: str, host: str, port: int, mode: int) -> None:
        if cid in self.socks:
            self.m.urc(f"+QIOPEN: {cid},{ERR_ID_IN_USE}")
            return
        if not self.m.context_active(ctx):
            self.m.urc(f"+QIOPEN: {cid},{ERR_OPEN_PDP}")
            return
        qs = QSocket(cid, service, mode)
        self.socks[cid] = qs
        try:
            ip = str(ipaddress.IPv4Address(host))
        except ValueError:
            self.m.bridge.resolve(host, lambda ips: self._resolved(qs, ips, port))
            return
        self._connect(qs, ip, port)

    def _resolved(self, qs: QSocket, ips: list[str] | None, port: int) -> None:
        if self.socks.get(qs.cid) is not qs:
            return
        if not ips:
            del self.socks[qs.cid]
            self.m.urc(f"+QIOPEN: {qs.cid},{ERR_DNS}")
            return
        self._connect(qs, ips[0], port)

    def _connect(self, qs: QSocket, ip: str, port: int) -> None:
        kind = socket.SOCK_STREAM if qs.service == "TCP" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        sock.setblocking(False)
        qs.sock, qs.peer = sock, (ip, port)
        if self.reactor.sim is not None and kind == socket.SOCK_STREAM:
            # under a time master the connect completes (or fails) before this command's
            # instant ends: on 127.0.0.1 the kernel finishes the handshake at once, and no
            # wall-time wait may decide when the URC comes
            sock.setblocking(True)
            sock.settimeout(2.0)
            code = sock.connect_ex((ip, port))
            sock.setblocking(False)
        else:
            code = sock.connect_ex((ip, port))
        if code == 0:
            self._opened(qs)
        elif code in (errno.EINPROGRESS, errno.EWOULDBLOCK):
            self.reactor.add_handler(sock, selectors.EVENT_WRITE, lambda mask: self._done(qs))
        else:
            self._failed(qs)

    def _done(self, qs: QSocket) -> None:
        assert qs.sock is not None
        self.reactor.remove_handler(qs.sock)
        if qs.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            self._failed(qs)
        else:
            self._opened(qs)

    def _failed(self, qs: QSocket) -> None:
        if qs.sock is not None:
            qs.sock.close()
        self.socks.pop(qs.cid, None)
        self.m.urc(f"+QIOPEN: {qs.cid},{ERR_CONNECT}")

    def _opened(self, qs: QSocket) -> None:
        assert qs.sock is not None
        qs.state = "open"
        if qs.service == "UDP":  # declared for a time master: datagrams to it are awaited
            self.reactor.count(f"udp.{qs.sock.getsockname()[1]}<", 0)
        else:  # the connection, then bytes both ways (host_tools/collector/tcp.py)
            self.reactor.count(f"tcpc.{qs.peer[1]}>")
            self.reactor.count(f"tcpd.{qs.sock.getsockname()[1]}<", 0)
        self._watch(qs)
        self.m.urc(f"+QIOPEN: {qs.cid},0")

    def _watch(self, qs: QSocket) -> None:
        assert qs.sock is not None
        events = selectors.EVENT_READ if not qs.paused else 0
        if qs.tx:
            events |= selectors.EVENT_WRITE
        if events:
            self.reactor.add_handler(qs.sock, events, lambda mask: self._ready(qs, mask))
        else:
            self.reactor.remove_handler(qs.sock)

    # -- traffic ------------------------------------------------------------------------------

    def _ready(self, qs: QSocket, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush(qs)
        if mask & selectors.EVENT_READ and qs.state == "open":
            self._readable(qs)

    def _readable(self, qs: QSocket) -> None:
        assert qs.sock is not None
        for _ in range(16):  # bounded burst per wake-up
            try:
                if qs.service == "TCP":
                    data, (ip, port) = qs.sock.recv(PUSH_CHUNK), qs.peer
                else:
                    data, (ip, port) = qs.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # reset by peer, or ICMP unreachable on UDP
                if qs.service == "TCP":
                    self._peer_closed(qs)
                    return
                continue
            if not data and qs.service == "TCP":
                self.reactor.count(f"tcpd.{qs.sock.getsockname()[1]}<")  # the peer's close
                self._peer_closed(qs)
                return
            self.m.spy.record(f"{qs.service.lower()}_received", data, peer=f"{ip}:{port}")
            if qs.service == "UDP":
                self.reactor.count(f"udp.{qs.sock.getsockname()[1]}<")
            else:
                self.reactor.count(f"tcpd.{qs.sock.getsockname()[1]}<", len(data))
            self._arrived(qs, data, ip, port)
            if qs.paused:
                return

    def _arrived(self, qs: QSocket, data: bytes, ip: str, port: int) -> None:
        qs.received += len(data)
        if qs.mode == 1:
            for i in range(0, len(data), PUSH_CHUNK):
                chunk = data[i : i + PUSH_CHUNK]
                self.m.urc_bytes(f'+QIURC: "recv",{qs.cid},{len(chunk)}', chunk)
            qs.read += len(data)
            return
        was_empty = qs.buffered() == 0
        if qs.service == "TCP":
            qs.rx += data
        elif qs.buffered() + len(data) <= RX_LIMIT:
            qs.rx_dgrams.append((data, ip, port))
        if was_empty:
            self.m.urc(f'+QIURC: "recv",{qs.cid}')
        if qs.buffered() >= RX_LIMIT and qs.service == "TCP":
            qs.paused = True  # back-pressure: the peer's TCP waits until QIRD drains
            self._watch(qs)

    def _peer_closed(self, qs: QSocket) -> None:
        self._drop(qs)
        self.m.urc(f'+QIURC: "closed",{qs.cid}')

    def _drop(self, qs: QSocket, fin: bool = False) -> None:
        # fin: this end closes an open TCP connection (the peer reads an EOF, counted)
        if qs.sock is not None:
            if fin and qs.service == "TCP" and qs.state == "open":
                self.reactor.count(f"tcpu.{qs.sock.getsockname()[1]}>")
            self.reactor.remove_handler(qs.sock)
            qs.sock.close()
            qs.sock = None
        qs.state = "closed"

    def send(self, qs: QSocket, data: bytes) -> bool:
        """Hand ``data`` to the real socket; False is SEND FAIL."""
        if qs.state != "open" or qs.sock is None or len(qs.tx) + len(data) > TX_LIMIT:
            return False
        if self.m.net.uplink(Uplink(len(data), 0, lambda: None)) == 30:
            return False  # no service
        self.m.spy.record(f"{qs.service.lower()}_sent", data, peer="%s:%d" % qs.peer)
        if qs.service == "UDP":
            try:
                qs.sock.send(data)
            except OSError:
                return False
            self.reactor.count(f"udp.{qs.peer[1]}>")
        else:
            qs.tx += data
            self._flush(qs)
        qs.sent += len(data)
        return True

    def _flush(self, qs: QSocket) -> None:
        if qs.sock is None:
            return
        try:
            while qs.tx:
                n = qs.sock.send(qs.tx)
                del qs.tx[:n]
                self.reactor.count(f"tcpu.{qs.sock.getsockname()[1]}>", n)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            qs.tx.clear()
            self._peer_closed(qs)
            return
        self._watch(qs)

    def read(self, qs: QSocket, limit: int) -> str:
        """The ``+QIRD`` response line (header, CRLF, data as latin-1) for up to ``limit``."""
        data, peer = self.take(qs, limit)
        head = f"+QIRD: {len(data)}{peer}"
        return head + ("\r\n" + data.decode("latin-1") if data else "")

    def take(self, qs: QSocket, limit: int) -> tuple[bytes, str]:
        """Up to ``limit`` buffered bytes and, for UDP, ``,"<ip>",<port>`` of their sender."""
        if qs.service == "UDP":
            if not qs.rx_dgrams:
                return b"", ""
            data, ip, port = qs.rx_dgrams.popleft()
            data = data[:limit]  # the rest of a datagram is lost, as on the module
            peer = f',"{ip}",{port}'
        else:
            data = bytes(qs.rx[:limit])
            del qs.rx[:limit]
            peer = ""
            if qs.paused and len(qs.rx) < RX_LIMIT // 2:
                qs.paused = False
                self._watch(qs)
        qs.read += len(data)
        return data, peer

    def close(self, cid: int) -> None:
        qs = self.socks.pop(cid, None)
        if qs is not None:
            self._drop(qs, fin=True)

    def close_all(self) -> None:
        for cid in list(self.socks):
            self.close(cid)

    def context_lost(self) -> None:
        """PDP context gone: every socket is dead but keeps its id until AT+QICLOSE."""
        for qs in self.socks.values():
            self._drop(qs, fin=True)  # the host socket closes: the server reads an EOF


# -- handlers ---------------------------------------------------------------------------------


def sock_of(m: Modem, text: str) -> QSocket:
    """The open socket a connect-id argument names (ERROR when there is none)."""
    return _sock(m, text)


def _sock(m: Modem, text: str) -> QSocket:
    qs = q(m).session(QSocketTable).socks.get(_int(text, 0, MAX_IDS - 1))
    if qs is None:
        raise CmdError(None)
    return qs


def qiopen(m: Modem, cmd: Command) -> Reply:
    args = _args(cmd, 5, 7)
    ctx, cid = _int(args[0], *m.persona.contexts), _int(args[1], 0, MAX_IDS - 1)
    service = args[2].upper()
    if service not in ("TCP", "UDP") or not args[3]:
        raise CmdError(BAD_PARAMS)
    port = _int(args[4], 1, 65535)
    if len(args) > 5 and args[5]:
        _int(args[5], 0, 65535)  # local port: the host picks one (as a carrier NAT would)
    mode = _int(args[6], 0, 2) if len(args) > 6 and args[6] else 0
    if mode == 2:
        raise CmdError(BAD_PARAMS)  # transparent mode is not emulated
    q(m).session(QSocketTable).open(ctx, cid, service=service, host=args[3], port=port, mode=mode)
    return Reply()


def qisend(m: Modem, cmd: Command) -> Reply:
    args = _args(cmd, 1, 2)
    qs = _sock(m, args[0])
    table = q(m).session(QSocketTable)
    if len(args) == 2 and _int(args[1], 0, m.persona.max_payload) == 0:
        return Reply([f"+QISEND: {qs.sent},{qs.sent - len(qs.tx)},{len(qs.tx)}"])
    if qs.state != "open":
        raise CmdError(None)
    length = _int(args[1], 1, m.persona.max_payload) if len(args) == 2 else None

    def done(payload: bytes | None) -> None:
        if payload is None:
            q(m).final("ERROR" if length is None else "SEND FAIL")
        else:
            q(m).final("SEND OK" if table.send(qs, payload) else "SEND FAIL")

    return q(m).expect_payload(length, done)


def qird(m: Modem, cmd: Command) -> Reply:
    args = _args(cmd, 1, 2)
    qs = _sock(m, args[0])
    if qs.mode != 0:
        raise CmdError(None)  # direct push: nothing to read
    limit = _int(args[1], 0, 1500) if len(args) == 2 else QIRD_DEFAULT
    if limit == 0:
        return Reply([f"+QIRD: {qs.received},{qs.read},{qs.received - qs.read}"])
    return Reply([q(m).session(QSocketTable).read(qs, limit)])


def qiclose(m: Modem, cmd: Command) -> Reply:
    args = _args(cmd, 1, 2)
    q(m).session(QSocketTable).close(_int(args[0], 0, MAX_IDS - 1))
    return Reply()


def qidnsgip(m: Modem, cmd: Command) -> Reply:
    args = _args(cmd, 2, 2)
    _int(args[0], 1, 15)
    mq = q(m)
    if not m.net.registered:
        raise CmdError(None)
    host = args[1]

    def done(ips: list[str] | None) -> None:
        if not ips:
            mq.urc(f'+QIURC: "dnsgip",{ERR_DNS}')
            return
        mq.urc(f'+QIURC: "dnsgip",0,{len(ips)},600')
        for ip in ips:
            mq.urc(f'+QIURC: "dnsgip","{ip}"')

    mq.bridge.resolve(host, done)
    return Reply()


COMMANDS: dict[str, Handler] = {
    "+QIOPEN": qiopen,
    "+QISEND": qisend,
    "+QIRD": qird,
    "+QICLOSE": qiclose,
    "+QIDNSGIP": qidnsgip,
}
