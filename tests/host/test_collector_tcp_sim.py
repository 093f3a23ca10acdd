"""The collector's TCP intake on the rig's time master: it is served by the collector's one
participant loop, counts the connection and every byte both ways, so device time does not move
while a TCP byte is in flight, and closes an idle connection at its deadline in device time."""

from __future__ import annotations

import io
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nbkit.proto import frame

from host_tools.collector.db import Store
from host_tools.collector.intake import SharedCollector, serve_udp
from host_tools.collector.server import Collector
from host_tools.collector.tcp import TCP_IDLE_S, TcpIntake
from host_tools.simclock.client import SimClient
from host_tools.simclock.master import Master

EPOCH = 1_764_000_000.0
KEY = bytes(range(16))
DEVICE = 1042


class SimCollector:
    """A collector (UDP + TCP) on a time master, in a thread, and a client participant."""

    def __init__(self, tmp: Path) -> None:
        self.master = Master(EPOCH, stall_s=5.0).start()
        # the client first: busy until it reports, so the master never sees the collector
        # alone, waiting for input with no deadline (a deadlock, which ends the run)
        self.client = SimClient(self.master.addr, "client")
        self.collector = Collector(Store(tmp / "c.db"), {DEVICE: KEY}, out=io.StringIO())
        self.collector.sim = SimClient(self.master.addr, "collector", self._counts)
        self.collector.store.clock = self.collector.sim.now
        shared = SharedCollector(self.collector)
        self.tcp = TcpIntake(
            shared, "127.0.0.1", 0, now=self.collector.sim.now, counts=self.collector.sim_counts
        )
        shared.sim_extras.append(self.tcp)
        self.stop = threading.Event()
        bound = threading.Event()
        self.thread = threading.Thread(
            target=serve_udp,
            args=(shared, "127.0.0.1", 0, self.stop, lambda addr: bound.set()),
            daemon=True,
        )
        self.thread.start()
        assert bound.wait(5)

    def _counts(self) -> dict[str, int]:
        return self.collector.sim_counts

    def settle(self, wall_s: float = 0.5, until: float | None = None) -> None:
        """Serve the client participant's messages for ``wall_s`` (wall), or until device
        time reaches ``until`` (at most 20 wall s: a busy host is slow, never wrong)."""
        end = time.monotonic() + (wall_s if until is None else 20.0)
        while time.monotonic() < end:
            if until is not None and self.client.now() >= until - 1e-3:
                return
            ready, _, _ = select.select([self.client], [], [], 0.02)
            if ready:
                self.client.on_readable()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.tcp.close()
        self.master.stop()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[SimCollector]:
    r = SimCollector(tmp_path)
    yield r
    r.close()


def _framed(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def _uplink() -> bytes:
    data, _ = frame.encode_data(DEVICE, KEY, [(1, int(EPOCH), 0x01, 42)])
    return _framed(data)


def test_time_waits_for_the_tcp_bytes_and_the_ack_comes_back_counted(
    rig: SimCollector,
) -> None:
    sock = socket.create_connection(rig.tcp.address(), timeout=2)
    port = sock.getsockname()[1]
    up = _uplink()
    sock.sendall(up[:3])  # part of a frame: the collector holds time until it has read it
    counts: dict[str, Any] = {f"tcpc.{rig.tcp.port}>": 1, f"tcpu.{port}>": len(up)}
    counts[f"tcpd.{port}<"] = 0
    rig.client.extra.update(counts)
    rig.client.report(EPOCH + 5)
    rig.settle(0.5)
    assert rig.client.now() == EPOCH  # 3 of the frame's bytes arrived, the rest in flight
    sock.sendall(up[3:])
    head = sock.recv(2, socket.MSG_WAITALL)
    ack = sock.recv(struct.unpack(">H", head)[0], socket.MSG_WAITALL)
    assert frame.decode_ack(ack, KEY, DEVICE) == (1, 1)
    assert rig.collector.sim_counts[f"tcpu.{port}<"] == len(up)
    assert rig.collector.sim_counts[f"tcpd.{port}>"] == 2 + len(ack)
    rig.client.extra[f"tcpd.{port}<"] = 2 + len(ack)
    rig.client.report(EPOCH + 5)
    rig.settle(until=EPOCH + 5)
    assert rig.client.now() == pytest.approx(EPOCH + 5, abs=1e-5)
    sock.close()


def test_an_idle_connection_is_closed_at_its_device_time_deadline(rig: SimCollector) -> None:
    sock = socket.create_connection(rig.tcp.address(), timeout=2)
    port = sock.getsockname()[1]
    rig.client.extra.update({f"tcpc.{rig.tcp.port}>": 1, f"tcpd.{port}<": 0})
    # the client waits long (only input wakes it) and watches the time go by (eager)
    rig.client.report(EPOCH + 10 * TCP_IDLE_S, eager=True)
    rig.settle(until=EPOCH + TCP_IDLE_S)
    # time jumped to the collector's deadline; it closed the connection (the FIN, which it
    # counted before closing), in its own thread: the client's read waits for it
    assert rig.client.now() == pytest.approx(EPOCH + TCP_IDLE_S, abs=1e-3)
    sock.settimeout(10)
    assert sock.recv(1) == b""
    assert rig.collector.sim_counts[f"tcpd.{port}>"] == 1
    assert rig.tcp.conns == {}
    sock.close()
