"""The collector survives its database and its own intakes (issue 16 #2, #5, #9).

* A database locked by another program (a real second sqlite3 connection holding an exclusive
  lock) while uplinks arrive over UDP and TCP: nothing is acked that was not stored, the process
  keeps running, and the device's resend is stored and acked once the lock is gone.
* An intake that fails is restarted with a log line and serves again on the same port.
* Forged CoAP registrations from ever new endpoints do not grow the platform's device table.
"""

from __future__ import annotations

import asyncio
import io
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import aiocoap
import pytest
from nbkit.proto import codes, frame

from host_tools.collector import coap, keyfile
from host_tools.collector.db import Store
from host_tools.collector.intake import SharedCollector, serve_mqtt, serve_tcp, serve_udp
from host_tools.collector.server import Collector
from host_tools.collector.supervise import Supervised

pytestmark = pytest.mark.e2e
KEY = bytes(range(16))
DEV = 1042
T = 1764000000


def _frame(seq: int) -> bytes:
    data, _ = frame.encode_data(DEV, KEY, [(seq, T + seq, codes.WATER_L, 100 + seq)])
    return data


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tcp_send(sock: socket.socket, data: bytes) -> None:
    sock.sendall(struct.pack(">H", len(data)) + data)


def _tcp_ack(sock: socket.socket, timeout: float) -> bytes | None:
    sock.settimeout(timeout)
    try:
        head = sock.recv(2)
    except TimeoutError:
        return None
    if len(head) < 2:
        return None
    return sock.recv(struct.unpack(">H", head)[0])


def _udp_ack(sock: socket.socket, data: bytes, port: int, timeout: float) -> bytes | None:
    sock.settimeout(timeout)
    sock.sendto(data, ("127.0.0.1", port))
    try:
        return sock.recv(64)
    except TimeoutError:
        return None


def test_a_locked_database_loses_nothing_and_ends_nothing(tmp_path: Path) -> None:
    keys, db = tmp_path / "keys.json", tmp_path / "c.db"
    keyfile.save(keys, {DEV: KEY})
    tcp_port = _free_tcp_port()
    argv = ["collect", "--listen", "127.0.0.1:0", "--tcp", f"127.0.0.1:{tcp_port}"]
    argv += ["--db", str(db), "--keys", str(keys), "--busy-timeout", "0.2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "host_tools", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert proc.stderr is not None
        banner = ""
        while "listening on" not in banner:
            banner = proc.stderr.readline()
            assert banner, "the collector ended before listening"
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", banner).group(1))  # type: ignore[union-attr]
        tcp = socket.create_connection(("127.0.0.1", tcp_port), timeout=5)

        other = sqlite3.connect(db, isolation_level=None)  # another program holds the lock
        other.execute("BEGIN EXCLUSIVE")
        assert _udp_ack(udp, _frame(1), port, 3.0) is None, "acked but not stored"
        _tcp_send(tcp, _frame(2))
        assert _tcp_ack(tcp, 3.0) is None, "acked but not stored"
        assert proc.poll() is None, "a locked database ended the collector"
        other.execute("ROLLBACK")
        other.close()

        # the device still holds both frames and sends them again: now stored and acked
        ack = _udp_ack(udp, _frame(1), port, 5.0)
        assert ack is not None and frame.decode_ack(ack, KEY, DEV) == (1, 1)
        _tcp_send(tcp, _frame(2))
        ack = _tcp_ack(tcp, 5.0)
        assert ack is not None and frame.decode_ack(ack, KEY, DEV) == (2, 2)
        tcp.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        udp.close()
        proc.kill()
    assert proc.returncode == 0, err
    assert "store_failed" in out.splitlines()[-1] and "accepted=2" in out.splitlines()[-1]
    assert err.count("not acked") >= 2
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT seq FROM readings ORDER BY seq").fetchall() == [(1,), (2,)]
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)


class _FailsOnce(SharedCollector):
    """Handles like the real one, except that the first frame raises (a bug, a dead socket)."""

    def __init__(self, collector: Collector) -> None:
        super().__init__(collector)
        self.failed = False

    def handle(self, data: bytes, peer: str) -> tuple[bytes | None, str]:
        if not self.failed:
            self.failed = True
            raise RuntimeError("injected intake failure")
        return super().handle(data, peer)


def _supervised(tmp: Path, target: Callable[..., None], addr: tuple[str, int]):
    collector = Collector(Store(tmp / "c.db"), {DEV: KEY}, out=io.StringIO())
    lines: list[str] = []
    collector.log = lines.append
    stop = threading.Event()
    intake = Supervised(
        "test", target, shared=_FailsOnce(collector), addr=addr, stop=stop, log=lines.append
    )
    return intake, stop, lines


def _wait_for(lines: list[str], text: str) -> None:
    for _ in range(200):
        if any(text in line for line in lines):
            return
        threading.Event().wait(0.02)
    raise AssertionError(f"no log line with {text!r}: {lines}")


def test_a_failed_udp_intake_restarts_on_its_port_and_says_so(tmp_path: Path) -> None:
    intake, stop, lines = _supervised(tmp_path, serve_udp, ("127.0.0.1", 0))
    _, port = intake.start()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert _udp_ack(udp, _frame(5), port, 1.0) is None  # the intake died on this one
        _wait_for(lines, "serving again")
        ack = _udp_ack(udp, _frame(5), port, 5.0)  # the device's resend
        assert ack is not None and frame.decode_ack(ack, KEY, DEV) == (5, 5)
    finally:
        udp.close()
        stop.set()
        intake.join(5)
    assert any("test intake failed: RuntimeError: injected" in line for line in lines), lines
    assert intake.restarts == 1


def test_a_failed_tcp_intake_restarts_instead_of_dying_silently(tmp_path: Path) -> None:
    intake, stop, lines = _supervised(tmp_path, serve_tcp, ("127.0.0.1", _free_tcp_port()))
    _, port = intake.start()
    try:
        first = socket.create_connection(("127.0.0.1", port), timeout=5)
        _tcp_send(first, _frame(6))
        assert _tcp_ack(first, 1.0) is None
        first.close()
        _wait_for(lines, "serving again")
        again = socket.create_connection(("127.0.0.1", port), timeout=5)
        _tcp_send(again, _frame(6))
        ack = _tcp_ack(again, 5.0)
        again.close()
        assert ack is not None and frame.decode_ack(ack, KEY, DEV) == (6, 6)
    finally:
        stop.set()
        intake.join(5)
    assert any("restart 1" in line for line in lines), lines


def test_a_failed_mqtt_intake_reconnects_and_resubscribes(tmp_path: Path) -> None:
    from host_tools.collector.broker import running_broker
    from tests.host.test_collector_intakes import Device

    with running_broker() as broker:
        intake, stop, lines = _supervised(tmp_path, serve_mqtt, (broker.host, broker.port))
        intake.start()
        dev = Device(broker, DEV)
        try:
            dev.publish(f"nbkit/{DEV}/up", _frame(7))
            assert dev.ack(timeout=1.0) is None
            _wait_for(lines, "serving again")
            dev.publish(f"nbkit/{DEV}/up", _frame(7))
            ack = dev.ack()
            assert ack is not None and frame.decode_ack(ack, KEY, DEV) == (7, 7)
        finally:
            dev.close()
            stop.set()
            intake.join(5)
    assert any("test intake failed: RuntimeError" in line for line in lines), lines


def test_forged_coap_registrations_do_not_grow_the_device_table(monkeypatch) -> None:
    monkeypatch.setattr(coap, "MAX_DEVICES", 20)

    async def flood(platform: coap.CoapPlatform, n: int) -> list[aiocoap.Message]:
        ctx = await aiocoap.Context.create_client_context()
        try:
            out = []
            for i in range(n):
                uri = f"coap://{platform.host}:{platform.port}/rd?ep=forged{i:06d}"
                out.append(await ctx.request(aiocoap.Message(code=aiocoap.POST, uri=uri)).response)
            long_ep = "x" * 200
            uri = f"coap://{platform.host}:{platform.port}/rd?ep={long_ep}"
            out.append(await ctx.request(aiocoap.Message(code=aiocoap.POST, uri=uri)).response)
            return out
        finally:
            await ctx.shutdown()

    with coap.PlatformThread(lambda data, peer: None) as thread:
        replies = thread.call(flood(thread.platform, 120), timeout=60)
        devices = dict(thread.platform.devices)
    assert [r.code for r in replies[:-1]] == [aiocoap.CREATED] * 120
    assert replies[-1].code == aiocoap.BAD_REQUEST  # an endpoint name no IMEI has
    assert len(devices) == 20
    assert "forged000119" in devices and "forged000000" not in devices  # newest kept


def test_a_failing_coap_uplink_is_not_acked_and_the_platform_keeps_serving(tmp_path: Path) -> None:
    intake, stop, lines = _supervised(tmp_path, coap.serve_coap, ("127.0.0.1", 0))
    host, port = intake.start()

    async def post(path: str, payload: bytes) -> aiocoap.Message:
        ctx = await aiocoap.Context.create_client_context()
        try:
            uri = f"coap://{host}:{port}/{path}"
            msg = aiocoap.Message(code=aiocoap.POST, payload=payload, uri=uri)
            return await ctx.request(msg).response
        finally:
            await ctx.shutdown()

    try:
        assert asyncio.run(post("rd?ep=860000000000001", b"")).code == aiocoap.CREATED
        failed = asyncio.run(post("t/d?ep=860000000000001", _frame(8)))
        assert not failed.code.is_successful() and not failed.payload  # no ack
        again = asyncio.run(post("t/d?ep=860000000000001", _frame(8)))  # the module resends
        assert again.code == aiocoap.CHANGED
        assert frame.decode_ack(bytes(again.payload), KEY, DEV) == (8, 8)
    finally:
        stop.set()
        intake.join(5)


def test_the_collector_log_file_is_capped(tmp_path: Path) -> None:
    keys, log = tmp_path / "keys.json", tmp_path / "collector.log"
    keyfile.save(keys, {DEV: KEY})
    argv = ["collect", "--listen", "127.0.0.1:0", "--db", str(tmp_path / "c.db")]
    argv += ["--keys", str(keys), "--log", str(log), "--log-max-bytes", "2k"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "host_tools", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", banner).group(1))  # type: ignore[union-attr]
        for i in range(300):  # forged frames: each one a log line
            data = bytearray(_frame(i))
            data[-1] ^= 1
            udp.sendto(bytes(data), ("127.0.0.1", port))
            if i % 30 == 29:  # a good one after each 30: its ack says all before it were
                # handled (300 at once can overflow the socket's receive buffer on a busy host)
                assert _udp_ack(udp, _frame(1000 + i), port, 10.0) is not None
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        udp.close()
        proc.kill()
    assert "forged=300" in out, out
    assert "rejected forged" not in err  # the lines went to the log file
    logs = sorted(p.name for p in tmp_path.glob("collector.log*"))
    assert logs == ["collector.log", "collector.log.1", "collector.log.2", "collector.log.3"]
    assert all(p.stat().st_size <= 2048 for p in tmp_path.glob("collector.log*"))


def test_a_closed_stdout_does_not_cost_an_ack(tmp_path: Path) -> None:
    out = io.StringIO()
    out.close()  # like `nbkit collect ... | head -1` once head has gone
    collector = Collector(Store(tmp_path / "c.db"), {DEV: KEY}, out=out)
    lines: list[str] = []
    collector.log = lines.append
    for seq in (1, 2):
        ack, outcome = collector.handle(_frame(seq), "test")
        assert outcome == "accepted" and ack is not None
        assert frame.decode_ack(ack, KEY, DEV) == (seq, seq)
    assert len([line for line in lines if "cannot print uplinks" in line]) == 1
