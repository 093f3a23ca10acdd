"""The TCP intake: length-prefixed frames on a listening socket (see :mod:`.intake`).

:class:`TcpIntake` holds the listener and its connections and does one step per ready socket,
so two loops can drive it: its own thread (:func:`host_tools.collector.intake.serve_tcp`,
wall-clock idle timeouts) or, under the rig's time master, the collector's one participant loop
(:func:`host_tools.collector.server.serve`), beside the UDP socket. There every byte is counted
for the master, so device time never moves while a TCP byte is in flight:

* ``tcpc.<listen port>``: connections (the emulator counts ``>`` when its connect completes,
  the intake ``<`` when it accepts);
* ``tcpu.<client port>``: bytes from the client (the emulator ``>`` as its socket takes them,
  the intake ``<`` as it reads them), and 1 more for the client's close (EOF);
* ``tcpd.<client port>``: bytes to the client (the intake ``>`` as it sends an ack, the
  emulator ``<`` as it reads), and 1 more for the intake's close.

An idle connection is closed after ``idle_s`` of the clock given (device time under the master).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from nbkit.proto import frame

MAX_TCP_FRAME = 4096
MAX_TCP_CLIENTS = 32
TCP_IDLE_S = 300.0


class _Conn:
    def __init__(self, sock: socket.socket, peer: str, port: int, now: float) -> None:
        self.sock, self.peer, self.port = sock, peer, port
        self.buf = bytearray()
        self.seen = now


class TcpIntake:
    """A bound, listening TCP intake; ``counts`` (the master's counters) when under one."""

    def __init__(
        self,
        shared: Any,
        host: str,
        port: int,
        *,
        now: Callable[[], float] = time.monotonic,
        counts: dict[str, int] | None = None,
        idle_s: float = TCP_IDLE_S,
    ) -> None:
        self.shared, self.now, self.counts, self.idle_s = shared, now, counts, idle_s
        self.conns: dict[socket.socket, _Conn] = {}
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind((host, port))
            self.listener.listen(8)
            self.listener.setblocking(False)
        except OSError:
            self.listener.close()
            raise
        self.port = int(self.listener.getsockname()[1])
        self._count(f"tcpc.{self.port}<", 0)  # declared: a connect here is awaited

    def address(self) -> tuple[str, int]:
        """Where it listens."""
        host, port = self.listener.getsockname()[:2]
        return str(host), int(port)

    def sockets(self) -> list[socket.socket]:
        """The listener and every connection: what to wait on for reading."""
        return [self.listener, *self.conns]

    def on_ready(self, sock: socket.socket) -> None:
        """One step for a socket ``sockets()`` named as readable."""
        if sock is self.listener:
            self._accept()
            return
        conn = self.conns.get(sock)
        if conn is not None and not self._serve(conn):
            self._close(conn, eof_seen=True)

    def next_expiry(self) -> float | None:
        """When the first idle connection is to be closed (on the intake's clock)."""
        if not self.conns:
            return None
        return min(c.seen for c in self.conns.values()) + self.idle_s

    def expire(self) -> None:
        """Close the connections idle for ``idle_s``."""
        now = self.now()
        for conn in [c for c in self.conns.values() if now - c.seen >= self.idle_s]:
            self._close(conn, eof_seen=False)

    def close(self) -> None:
        for conn in list(self.conns.values()):
            self._close(conn, eof_seen=False)
        self.listener.close()

    # -- steps --------------------------------------------------------------------------------

    def _count(self, key: str, n: int = 1) -> None:
        if self.counts is not None:
            self.counts[key] = self.counts.get(key, 0) + n

    def _accept(self) -> None:
        try:
            sock, addr = self.listener.accept()
        except OSError:
            return
        self._count(f"tcpc.{self.port}<")
        if len(self.conns) >= MAX_TCP_CLIENTS:
            self.shared.collector.log(
                f"collector: tcp client {addr} refused, {len(self.conns)} connected"
            )
            sock.close()
            return
        sock.setblocking(False)
        self.conns[sock] = _Conn(sock, f"tcp:{addr[0]}:{addr[1]}", addr[1], self.now())
        self._count(f"tcpu.{addr[1]}<", 0)  # declared: its bytes are awaited

    def _close(self, conn: _Conn, eof_seen: bool) -> None:
        self.conns.pop(conn.sock, None)
        if not eof_seen:
            self._count(f"tcpd.{conn.port}>")  # our FIN: the client counts its EOF
        with contextlib.suppress(OSError):
            conn.sock.close()

    def _serve(self, conn: _Conn) -> bool:
        """Read what is there and handle complete frames; False closes the connection."""
        try:
            data = conn.sock.recv(8192)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        if not data:
            self._count(f"tcpu.{conn.port}<")  # the client's close
            return False
        self._count(f"tcpu.{conn.port}<", len(data))
        conn.seen = self.now()
        conn.buf += data
        while len(conn.buf) >= 2:
            (size,) = struct.unpack_from(">H", conn.buf)
            if not 0 < size <= MAX_TCP_FRAME:
                self.shared.refuse(frame.MALFORMED, f"{conn.peer} sent a frame length of {size}")
                self._close(conn, eof_seen=False)
                return True  # closed here, with our FIN counted
            if len(conn.buf) < 2 + size:
                break
            payload = bytes(conn.buf[2 : 2 + size])
            del conn.buf[: 2 + size]
            reply, _ = self.shared.handle(payload, conn.peer)
            if reply is not None and not self._send(conn, struct.pack(">H", len(reply)) + reply):
                return False
        return True

    def _send(self, conn: _Conn, data: bytes) -> bool:
        # counted before it goes: a client that has read the bytes finds them counted (the
        # time master sees them in flight, never received before they were sent)
        self._count(f"tcpd.{conn.port}>", len(data))
        try:
            conn.sock.setblocking(True)
            conn.sock.settimeout(2.0)
            conn.sock.sendall(data)
            conn.sock.setblocking(False)
        except OSError:
            self._count(f"tcpd.{conn.port}>", -len(data))  # the client is gone: none arrives
            return False
        return True
