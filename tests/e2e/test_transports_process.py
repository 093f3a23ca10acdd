"""The CLI processes of the new transports: `nbkit broker`, `nbkit collect --mqtt/--tcp/--coap`
and `nbkit emulate --modem ec200`, wired together over loopback like the MQTT demo."""

from __future__ import annotations

import re
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from nbkit.proto import codes, frame

from host_tools.collector import keyfile
from host_tools.emulator.process import running_emulator
from tests.support.simdte import EPOCH, sim_dte

pytestmark = pytest.mark.e2e
KEY = bytes(range(32))
OK = b"\r\nOK\r\n"


def _nbkit(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "host_tools", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=10)
    finally:
        proc.kill()


def test_broker_collector_and_ec200_emulator_processes_deliver_and_ack(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keyfile.save(keys, {1042: KEY})
    broker = _nbkit("broker")
    try:
        assert broker.stdout is not None
        address = broker.stdout.readline().strip()
        assert re.fullmatch(r"127\.0\.0\.1:\d+", address), address
        bport = int(address.rsplit(":", 1)[1])
        # the module, this DTE and the collector keep device time on one time master: the
        # collector's ack through the broker is awaited in device time whatever the host's load
        # (the broker is a server outside it; the master waits for what goes through it)
        with sim_dte() as dte:
            master = "sim:%s:%s:collector" % tuple(dte.spec.split(":")[1:3])
            collect = _nbkit(
                "collect",
                *("--mqtt", address, "--tcp", "127.0.0.1:0", "--coap", "127.0.0.1:0"),
                *("--listen", "127.0.0.1:0"),  # (whose loop serves TCP and MQTT on the master)
                *("--db", str(tmp_path / "c.db"), "--keys", str(keys), "--clock", master),
            )
            try:
                _deliver_by_tcp_then_mqtt(collect, dte, bport)
                out, err = _stop(collect)
            finally:
                collect.kill()
        assert collect.returncode == 0, err
        # the same record by TCP then MQTT: stored once, the second one re-acked
        assert out.splitlines()[-1] == (
            "collector summary: accepted=1, duplicate=1, records_stored=1"
        ), out
    finally:
        _stop(broker)
    assert broker.returncode == 0


def _deliver_by_tcp_then_mqtt(collect: subprocess.Popen[str], dte: Any, bport: int) -> None:
    assert collect.stderr is not None
    seen: dict[str, int] = {}
    while len(seen) < 3:  # (udp, the fourth, says "listening on")
        line = collect.stderr.readline()
        assert line, "collector exited early"
        m = re.search(r"collector: (\w+) intake on [\d.]+:(\d+)", line)
        if m:
            seen[m.group(1)] = int(m.group(2))
    data, _ = frame.encode_data(1042, KEY, [(0, 1764000000, codes.WATER_L, 42)])
    # TCP intake, straight from a socket
    with socket.create_connection(("127.0.0.1", seen["tcp"]), timeout=5) as sock:
        sock.sendall(struct.pack(">H", len(data)) + data)
        size = struct.unpack(">H", sock.recv(2, socket.MSG_WAITALL))[0]
        ack = sock.recv(size, socket.MSG_WAITALL)
        assert frame.decode_ack(ack, KEY, 1042) == (0, 0)
    # MQTT, through the emulated Cat1 module and the broker
    with running_emulator("ec200", sim=dte.spec) as emu, dte.open(emu.path) as port:
        port.read_until(b"SMS DONE\r\n", timeout=30)
        while b"+CEREG: 0,1" not in port.command("AT+CEREG?"):  # registered
            assert port.now() < EPOCH + 120, "no registration in 2 device minutes"
            port.idle(1)
        for cmd in ('AT+QICSGP=1,1,"cmnet"', "AT+QIACT=1"):
            assert port.command(cmd) == OK
        assert port.command('AT+QMTCFG="dataformat",0,0,1') == OK
        assert port.command(f'AT+QMTOPEN=0,"127.0.0.1",{bport}') == OK
        port.read_until(b"+QMTOPEN: 0,0\r\n", timeout=30)
        assert port.command('AT+QMTCONN=0,"meter-1042"') == OK
        port.read_until(b"+QMTCONN: 0,0,0\r\n", timeout=30)
        assert port.command('AT+QMTSUB=0,1,"nbkit/1042/ack",1') == OK
        port.read_until(b"+QMTSUB: 0,1,0,1\r\n", timeout=30)
        port.write(f'AT+QMTPUBEX=0,2,1,0,"nbkit/1042/up",{len(data)}\r'.encode())
        port.read_until(b"> ")
        port.write(data)
        got = port.read_until(re.compile(rb'"nbkit/1042/ack","([0-9A-F]+)"\r\n'), 5)
        hexack = re.findall(rb'"([0-9A-F]+)"\r\n', got)[-1]
        assert frame.decode_ack(bytes.fromhex(hexack.decode()), KEY, 1042) == (0, 0)


def test_collect_needs_at_least_one_intake(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keyfile.save(keys, {1042: KEY})
    proc = _nbkit("collect", "--db", str(tmp_path / "c.db"), "--keys", str(keys))
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "give at least one of --listen, --tcp, --mqtt, --coap" in err
