"""The firmware in MicroPython (tests/e2e/cat1_client.py: durable queue -> frame -> link ->
modem profile -> pty) against the emulated module, a real broker / CoAP platform / TCP intake
and the real collector: every reading stored exactly once, also across a broker crash.

The entry script comes with the firmware side of issue 8; without it these tests skip."""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from host_tools.collector.broker import running_broker
from host_tools.collector.coap import PlatformThread
from host_tools.collector.db import Store
from host_tools.collector.intake import SharedCollector, serve_mqtt, serve_tcp
from host_tools.collector.server import Collector, serve
from host_tools.emulator.process import running_emulator
from tests.micropython_runner import run_micropython

pytestmark = pytest.mark.e2e
SCRIPT = Path(__file__).resolve().parent / "cat1_client.py"
KEY_HEX = "00112233445566778899aabbccddeeff"
DEVICE = 42

needs_script = pytest.mark.skipif(not SCRIPT.exists(), reason="firmware entry script not here")


class Host:
    """The collector and the intakes the firmware reports to."""

    def __init__(self, tmp: Path) -> None:
        self.collector = Collector(
            Store(tmp / "c.db"), {DEVICE: bytes.fromhex(KEY_HEX)}, out=io.StringIO()
        )
        self.collector.log = lambda msg: None
        self.shared = SharedCollector(self.collector)
        self.stop = threading.Event()

    def intake(self, serve: Callable[..., None], host: str, port: int) -> tuple[str, int]:
        ready: queue.Queue[Any] = queue.Queue()
        args = (self.shared, host, port, self.stop, ready.put)
        threading.Thread(target=serve, args=args, daemon=True).start()
        addr: tuple[str, int] = ready.get(timeout=10)
        return addr

    def seqs(self) -> list[int]:
        return [r["seq"] for r in self.collector.store.rows()]

    def close(self) -> None:
        self.stop.set()
        self.collector.store.close()


@contextmanager
def host(tmp: Path) -> Iterator[Host]:
    h = Host(tmp)
    try:
        yield h
    finally:
        h.close()


def firmware(modem: str, transport: str, addr: tuple[str, int], tmp: Path, readings: int) -> str:
    """Run the entry script against an emulator of ``modem``; returns its stdout."""
    with running_emulator(modem, time_scale=1000, reg_delay=0.01, boot_time=0.01) as emu:
        args = [str(SCRIPT), emu.path, modem, transport, addr[0], str(addr[1])]
        args += [str(DEVICE), KEY_HEX, str(readings), str(tmp / "queue"), "5", "2"]
        proc = run_micropython(args, heap="256K", timeout=90)
    assert proc.returncode == 0, (proc.stdout, proc.stderr[-2000:], emu.stderr()[-2000:])
    last = proc.stdout.splitlines()[-1].split()
    assert last[0] == "done" and last[2] == "0", proc.stdout  # nothing left pending
    return proc.stdout


def serve_udp(shared: SharedCollector, host: str, port: int, stop: Any, ready: Any) -> None:
    serve(shared.collector, host, port, stop, ready, lock=shared.lock)


@needs_script
@pytest.mark.parametrize("modem", ["ec200", "bc26"])
def test_udp_over_the_qi_stack_delivers_exactly_once(tmp_path: Path, modem: str) -> None:
    with host(tmp_path) as h:
        firmware(modem, "udp", h.intake(serve_udp, "127.0.0.1", 0), tmp_path, 5)
        assert h.seqs() == [0, 1, 2, 3, 4]


@needs_script
@pytest.mark.parametrize("modem", ["ec200"])
def test_cat1_tcp_delivers_exactly_once(tmp_path: Path, modem: str) -> None:
    with host(tmp_path) as h:
        firmware(modem, "tcp", h.intake(serve_tcp, "127.0.0.1", 0), tmp_path, 5)
        assert h.seqs() == [0, 1, 2, 3, 4]


@needs_script
@pytest.mark.parametrize("modem", ["ec200", "bc26"])
def test_mqtt_through_the_real_broker_delivers_exactly_once(tmp_path: Path, modem: str) -> None:
    with host(tmp_path) as h, running_broker() as broker:
        h.intake(serve_mqtt, broker.host, broker.port)
        firmware(modem, "mqtt", (broker.host, broker.port), tmp_path, 5)
        assert h.seqs() == [0, 1, 2, 3, 4]


@needs_script
def test_mqtt_broker_crash_mid_run_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path,
) -> None:
    with host(tmp_path) as h, running_broker() as broker:
        h.intake(serve_mqtt, broker.host, broker.port)

        def crash_after_first_uplink() -> None:
            deadline = time.monotonic() + 30
            while h.collector.counts["accepted"] < 1 and time.monotonic() < deadline:
                time.sleep(0.002)
            broker.restart()

        crasher = threading.Thread(target=crash_after_first_uplink, daemon=True)
        crasher.start()
        firmware("ec200", "mqtt", (broker.host, broker.port), tmp_path, 12)
        crasher.join(5)
        assert h.seqs() == list(range(12))
        assert h.collector.counts["records_stored"] == 12


@needs_script
@pytest.mark.parametrize("modem", ["bc28", "bc95"])
def test_coap_platform_path_delivers_exactly_once(tmp_path: Path, modem: str) -> None:
    with host(tmp_path) as h:
        with PlatformThread(lambda data, peer: h.shared.handle(data, peer)[0]) as platform:
            addr = (platform.platform.host, platform.platform.port)
            firmware(modem, "coap", addr, tmp_path, 5)
        assert h.seqs() == [0, 1, 2, 3, 4]
