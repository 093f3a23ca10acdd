"""The modem's UDP sockets, backed by REAL UDP sockets on 127.0.0.1.

``AT+NSOCR`` binds a socket (listen port 0 -> ephemeral; a port already taken on this host is
replaced by an ephemeral one, as a carrier NAT would anyway), ``AT+NSOST`` sends a real
datagram, and datagrams arriving on the socket are handed to the modem, which buffers them per
socket (bounded) for ``AT+NSORF``.
"""

from __future__ import annotations

import selectors
import socket
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from host_tools.emulator.reactor import Reactor
from host_tools.emulator.records import Spy

MAX_SOCKETS = 7
#: per-socket receive buffer: datagrams and bytes beyond these are dropped (counted)
RX_MAX_DATAGRAMS = 32
RX_MAX_BYTES = 16384
BIND_HOST = "127.0.0.1"


@dataclass
class Datagram:
    """One received datagram; ``offset`` is how much NSORF has already returned."""

    ip: str
    port: int
    data: bytes
    offset: int = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset


@dataclass
class UdpSocket:
    """A modem socket id and its real socket."""

    sid: int
    sock: socket.socket
    port: int
    accept: bool
    rx: deque[Datagram] = field(default_factory=deque)
    rx_bytes: int = 0
    dropped: int = 0

    def buffer(self, dgram: Datagram) -> bool:
        """Keep a datagram for NSORF; False (and counted) when the buffer is full."""
        if len(self.rx) >= RX_MAX_DATAGRAMS or self.rx_bytes + len(dgram.data) > RX_MAX_BYTES:
            self.dropped += 1
            return False
        self.rx.append(dgram)
        self.rx_bytes += len(dgram.data)
        return True

    def read(self, max_len: int) -> tuple[Datagram, bytes] | None:
        """Up to ``max_len`` bytes of the oldest datagram (it is consumed once fully read)."""
        if not self.rx:
            return None
        dgram = self.rx[0]
        chunk = dgram.data[dgram.offset : dgram.offset + max_len]
        dgram.offset += len(chunk)
        self.rx_bytes -= len(chunk)
        if dgram.remaining == 0:
            self.rx.popleft()
        return dgram, chunk


class SocketTable:
    """Socket ids 0..6 of one modem; ``on_datagram(sock, dgram)`` gets what arrives."""

    def __init__(
        self,
        reactor: Reactor,
        spy: Spy,
        on_datagram: Callable[[UdpSocket, Datagram], None],
    ) -> None:
        self.reactor, self.spy, self.on_datagram = reactor, spy, on_datagram
        self.sockets: dict[int, UdpSocket] = {}

    def create(self, listen_port: int, accept: bool) -> UdpSocket:
        """Bind a new socket; raises OSError when no id or no port is free."""
        free = [i for i in range(MAX_SOCKETS) if i not in self.sockets]
        if not free:
            raise OSError("no free socket id")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            try:
                sock.bind((BIND_HOST, listen_port))
            except OSError:
                if listen_port == 0:
                    raise
                sock.bind((BIND_HOST, 0))
                print(
                    f"nbkit emulate: UDP port {listen_port} is taken on this host, "
                    f"socket bound to {sock.getsockname()[1]} instead",
                    file=sys.stderr,
                )
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        usock = UdpSocket(free[0], sock, sock.getsockname()[1], accept)
        self.sockets[usock.sid] = usock
        self.reactor.count(f"udp.{usock.port}<", 0)  # declared: datagrams to it are awaited
        self.reactor.add_handler(sock, selectors.EVENT_READ, lambda m: self._readable(usock))
        return usock

    def get(self, sid: int) -> UdpSocket | None:
        return self.sockets.get(sid)

    def close(self, sid: int) -> bool:
        usock = self.sockets.pop(sid, None)
        if usock is None:
            return False
        self.reactor.remove_handler(usock.sock)
        usock.sock.close()
        return True

    def close_all(self) -> None:
        for sid in list(self.sockets):
            self.close(sid)

    def send(self, usock: UdpSocket, ip: str, port: int, data: bytes) -> None:
        """Send a real datagram (a local send error is the network losing it)."""
        self.spy.record("udp_sent", data, peer=f"{ip}:{port}")
        try:
            usock.sock.sendto(data, (ip, port))
            self.reactor.count(f"udp.{port}>")
        except OSError as exc:
            print(f"nbkit emulate: UDP send to {ip}:{port} failed: {exc}", file=sys.stderr)

    def _readable(self, usock: UdpSocket) -> None:
        for _ in range(64):  # bounded burst per wake-up
            try:
                data, (ip, port) = usock.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable reported on the socket
                continue
            self.spy.record("udp_received", data, peer=f"{ip}:{port}")
            self.reactor.count(f"udp.{usock.port}<")
            if usock.accept and usock.sid in self.sockets:
                self.on_datagram(usock, Datagram(ip, port, data))
