"""Whole host paths with a Python DTE playing the firmware: emulated modem -> real broker / TCP /
CoAP platform -> collector, readings delivered exactly once across broker crashes."""

from __future__ import annotations

import io
import queue
import re
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbkit.proto import codes, frame
from quectel_support import OK, online, quectel, send_data

from host_tools.collector.broker import running_broker
from host_tools.collector.coap import PlatformThread
from host_tools.collector.db import Store
from host_tools.collector.intake import SharedCollector, serve_mqtt, serve_tcp
from host_tools.collector.server import Collector
from host_tools.emulator.client import PtyClient, PtyTimeout
from host_tools.emulator.modem import ModemOptions
from host_tools.emulator.network import NetworkConfig
from host_tools.emulator.server import serving

KEY = bytes(range(16))
DEVICE = 1042
T = 1764000000
RECORDS = [(s, T + 900 * s, codes.WATER_L, 5000 + s) for s in range(12)]
ACK_TIMEOUT = 1.5


def collector(tmp: Path) -> tuple[Collector, SharedCollector]:
    c = Collector(Store(tmp / "c.db"), {DEVICE: KEY}, out=io.StringIO())
    c.log = lambda msg: None
    return c, SharedCollector(c)


def intake(
    shared: SharedCollector, serve: Callable[..., None], host: str, port: int
) -> tuple[threading.Event, tuple[str, int]]:
    stop = threading.Event()
    ready: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=serve, args=(shared, host, port, stop, ready.put), daemon=True).start()
    return stop, ready.get(timeout=10)


class Queue:
    """The device's durable queue, reduced: pending records until an ack names them."""

    def __init__(self) -> None:
        self.pending = list(RECORDS)
        self.sent = 0

    def next_frame(self) -> bytes:
        self.sent += 1
        return frame.encode_data(DEVICE, KEY, self.pending[:2])[0]

    def ack(self, data: bytes) -> None:
        first, last = frame.decode_ack(data, KEY, DEVICE)
        self.pending = [r for r in self.pending if not first <= r[0] <= last]


OPENED = re.compile(rb"\+QMTOPEN: 0,(-?\d+)\r\n")


def mqtt_connect(port: PtyClient, broker_port: int) -> None:
    # the broker (a real process) may still be coming back: open again until it answers 0, for
    # up to 30 wall seconds (a loaded CI host restarts it slowly), never forever
    deadline, seen = time.monotonic() + 30, []
    while time.monotonic() < deadline:
        reply = port.command(f'AT+QMTOPEN=0,"127.0.0.1",{broker_port}')
        seen.append(reply)
        # a late URC of the crash (+QMTPUB: ...,2) may come before the OK: the open still runs
        if not reply.endswith(OK):
            seen.append(port.drain())
            continue
        m = port.read_until(OPENED)
        result = OPENED.search(m).group(1)  # type: ignore[union-attr]
        seen.append(result)
        if result == b"0":
            break
        if result == b"2":  # open already (an earlier attempt's result was lost): close it first
            assert port.command("AT+QMTCLOSE=0") == OK
            port.read_until(b"+QMTCLOSE: 0,")
        time.sleep(0.05)
    else:
        raise AssertionError(f"AT+QMTOPEN never succeeded after the broker came back: {seen[-8:]}")
    assert port.command(f'AT+QMTCONN=0,"meter-{DEVICE}"') == OK
    port.read_until(b"+QMTCONN: 0,0,0\r\n", timeout=5)
    assert port.command(f'AT+QMTSUB=0,1,"nbkit/{DEVICE}/ack",1') == OK
    port.read_until(b"+QMTSUB: 0,1,0,1\r\n", timeout=5)


EVENT = re.compile(rb'\+QMTRECV: 0,\d+,"[^"]+","([0-9A-F]+)"\r\n|\+QMTSTAT: 0,(\d+)\r\n')


def test_mqtt_readings_arrive_exactly_once_across_a_broker_crash(tmp_path: Path) -> None:
    coll, shared = collector(tmp_path)
    with running_broker() as broker:
        stop, _ = intake(shared, serve_mqtt, broker.host, broker.port)
        try:
            with quectel("ec200") as (_emu, port):
                online(port)
                assert port.command('AT+QMTCFG="dataformat",0,0,1') == OK
                mqtt_connect(port, broker.port)
                q, msgid, crashed = Queue(), 1, False
                while q.pending and q.sent < 40:
                    data = q.next_frame()
                    msgid = msgid % 65535 + 1
                    cmd = f'AT+QMTPUBEX=0,{msgid},1,0,"nbkit/{DEVICE}/up",{len(data)}'
                    port.write(cmd.encode() + b"\r")
                    port.read_until(b"> ")
                    port.write(data)
                    if q.sent == 3 and not crashed:
                        broker.restart()  # mid-run, with this publish possibly in flight
                        crashed = True
                    try:
                        got = port.read_until(EVENT, timeout=ACK_TIMEOUT)
                    except PtyTimeout:
                        continue  # no ack: send the same records again
                    m = EVENT.search(got)
                    assert m is not None
                    if m.group(1):
                        q.ack(bytes.fromhex(m.group(1).decode()))
                    else:
                        mqtt_connect(port, broker.port)  # +QMTSTAT: reconnect, resend
                assert crashed and not q.pending
                assert q.sent > 6  # the frame in flight at the crash went again
        finally:
            stop.set()
    stored = coll.store.rows()
    assert [(r["seq"], r["value"]) for r in stored] == [(s, 5000 + s) for s in range(12)]
    assert coll.counts["records_stored"] == 12
    coll.store.close()


def test_cat1_tcp_frames_with_length_prefix_reach_the_tcp_intake(tmp_path: Path) -> None:
    coll, shared = collector(tmp_path)
    stop, (host, tport) = intake(shared, serve_tcp, "127.0.0.1", 0)
    try:
        with quectel("ec200") as (_emu, port):
            online(port)
            assert port.command(f'AT+QIOPEN=1,0,"TCP","{host}",{tport},0,1') == OK
            port.read_until(b"+QIOPEN: 0,0\r\n")
            q = Queue()
            while q.pending:
                data = q.next_frame()
                out = struct.pack(">H", len(data)) + data
                assert send_data(port, f"AT+QISEND=0,{len(out)}", out, b"SEND OK\r\n")
                head = port.read_until(re.compile(rb'\+QIURC: "recv",0,(\d+)\r\n'))
                n = int(re.findall(rb",(\d+)\r\n", head)[-1])
                raw = port.read_until(re.compile(b"(?s).{%d}" % n))  # by count, never by line
                (size,) = struct.unpack(">H", raw[:2])
                q.ack(raw[2 : 2 + size])
    finally:
        stop.set()
    assert [r["seq"] for r in coll.store.rows()] == list(range(12))
    coll.store.close()


def test_cdp_platform_path_513_until_registered_then_acks_as_nnmi(tmp_path: Path) -> None:
    coll, shared = collector(tmp_path)
    with PlatformThread(lambda data, peer: shared.handle(data, peer)[0]) as platform:
        opts = ModemOptions(persona="bc28", boot_time=0.01, network=NetworkConfig(reg_delay=0.01))
        with serving(opts, time_scale=1000.0) as emu, PtyClient(emu.path) as port:
            port.read_until(b"Neul\r\nOK\r\n")
            assert port.command("AT+CMEE=1") == OK
            data = frame.encode_data(DEVICE, KEY, RECORDS[:2])[0]
            nmgs = f"AT+NMGS={len(data)},{data.hex().upper()}"
            assert port.command(nmgs) == b"\r\n+CME ERROR: 513\r\n"  # no platform yet
            host, cport = platform.platform.host, platform.platform.port
            for cmd in (f"AT+NCDP={host},{cport}", "AT+NSMI=1", "AT+NNMI=1"):
                assert port.command(cmd) == OK
            deadline = time.monotonic() + 5
            while b"MO_DATA_ENABLED" not in port.command("AT+NMSTATUS?"):
                assert time.monotonic() < deadline, "platform registration did not finish"
                time.sleep(0.01)
            q = Queue()
            while q.pending:
                data = q.next_frame()
                assert port.command(f"AT+NMGS={len(data)},{data.hex().upper()}") == OK
                got = port.read_until(re.compile(rb"\+NNMI:\d+,([0-9A-F]+)\r\n"), timeout=5)
                assert b"+NSMI:SENT\r\n" in got
                q.ack(bytes.fromhex(re.findall(rb"\+NNMI:\d+,([0-9A-F]+)", got)[-1].decode()))
            # a downlink the platform sends on its own (NNMI=0: buffered for AT+NMGR)
            assert port.command("AT+NNMI=0") == OK
            assert platform.push(ModemOptions.imei, b"\x01\x02")
            deadline = time.monotonic() + 5
            while (reply := port.command("AT+NMGR")) == OK:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert reply == b"\r\n2,0102\r\n" + OK
    assert [r["seq"] for r in coll.store.rows()] == list(range(12))
    coll.store.close()
