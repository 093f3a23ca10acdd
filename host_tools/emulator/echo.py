"""A UDP echo socket on 127.0.0.1 served by a thread: the far end for emulated uplinks.

    with udp_echo() as port:
        ...  # AT+NSOST=0,127.0.0.1,<port>,... comes back as +NSONMI

Used by the emulator tests, the driver-vs-emulator e2e tests and the ``at-driver`` bench.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def udp_echo(host: str = "127.0.0.1") -> Iterator[int]:
    """Serve a UDP echo socket until the block ends; yields its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            sock.sendto(data, peer)

    thread = threading.Thread(target=serve, name="udp-echo", daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(1)
        sock.close()
