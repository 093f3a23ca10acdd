"""A UDP echo socket on 127.0.0.1 served by a thread: the far end for emulated uplinks.

    with udp_echo() as port:
        ...  # AT+NSOST=0,127.0.0.1,<port>,... comes back as +NSONMI

    with udp_echo(master=master.addr, prefix=b"ack:") as port:
        ...  # the same peer as a participant of a time master (host_tools.simclock)

Under a time master the echo is the participant ``echo`` (or ``name``): it counts each datagram
it takes (``udp.<its port><``) and each it sends (``udp.<peer port>>``, counted before it goes),
so time never moves while an answer is in flight, and it answers at the instant the datagram
arrived (no host latency becomes device time).

Used by the emulator tests, the driver-vs-emulator e2e tests, the energy wake measurement and
the ``at-driver`` bench.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from host_tools.simclock.client import SimClient, SimFailed


@contextmanager
def udp_echo(
    host: str = "127.0.0.1",
    *,
    master: tuple[str, int] | None = None,
    prefix: bytes = b"",
    name: str = "echo",
) -> Iterator[int]:
    """Serve a UDP echo socket (each answer is ``prefix`` + the datagram) until the block
    ends; yields its port. ``master``: join that time master as participant ``name``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    stop = threading.Event()
    if master is None:
        sock.settimeout(0.05)
        target = lambda: _serve_wall(sock, prefix, stop)  # noqa: E731
    else:
        client = SimClient(master, name)
        client.received(f"udp.{sock.getsockname()[1]}", 0)  # declared: datagrams are awaited
        target = lambda: _serve_sim(sock, prefix, stop, client)  # noqa: E731
    thread = threading.Thread(target=target, name="udp-echo", daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        if master is not None:
            client.close()
        sock.close()


def _serve_wall(sock: socket.socket, prefix: bytes, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(65535)
        except OSError:
            continue
        sock.sendto(prefix + data, peer)


def _serve_sim(
    sock: socket.socket, prefix: bytes, stop: threading.Event, client: SimClient
) -> None:
    sock.setblocking(False)
    mine = f"udp.{sock.getsockname()[1]}"
    watched: list[Any] = [client, sock]
    try:
        while not stop.is_set():
            client.report(None)  # idle until a datagram comes: it holds no deadline
            ready, _, _ = select.select(watched, [], [], 0.1)
            if client in ready:
                client.on_readable()
            if sock not in ready:
                continue
            client.go()  # input: act at its sender's time
            while True:
                try:
                    data, peer = sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                client.received(mine)
                client.sent(f"udp.{peer[1]}")
                sock.sendto(prefix + data, peer)
    except (SimFailed, OSError):
        pass  # the run is over: the master failed it or is gone
