"""`nbkit emulate` as a real process: pty path first, several at once, clean stop, records."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from host_tools.emulator.client import PtyClient
from host_tools.emulator.process import running_emulator

pytestmark = pytest.mark.e2e
OK = b"\r\nOK\r\n"


def _wait_attached(port: PtyClient) -> None:
    deadline = time.monotonic() + 5
    while b"+CGATT:1" not in port.command("AT+CGATT?"):
        assert time.monotonic() < deadline, "no attach"
        time.sleep(0.01)


def test_first_stdout_line_is_the_pty_and_sigterm_exits_0_promptly():
    proc = subprocess.Popen(
        [sys.executable, "-m", "host_tools", "emulate", "--time-scale", "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/pts/")
        with PtyClient(path) as port:
            port.read_until(b"Neul\r\nOK\r\n", timeout=5)
            assert port.command("AT") == OK
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        assert time.monotonic() - start < 1.0
        err = proc.stderr.read()
        assert "nbkit emulate: --clock " in err  # the chosen clock triple, for the board
        wall, epoch, scale = err.split("--clock ")[1].split()[0].split(",")
        assert float(scale) == 100.0 and float(epoch) == int(float(wall))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_sigint_also_exits_0():
    with running_emulator(time_scale=100) as emu:
        emu.proc.send_signal(signal.SIGINT)
        assert emu.proc.wait(5) == 0


def test_two_emulators_run_at_once_on_their_own_ptys():
    with (
        running_emulator("bc28", time_scale=1000) as a,
        running_emulator("bc95", time_scale=1000, imei="861234567890123") as b,
    ):
        assert a.path != b.path
        with PtyClient(a.path) as pa, PtyClient(b.path) as pb:
            pa.read_until(b"Neul\r\nOK\r\n", timeout=5)
            pb.read_until(b"Neul\r\nOK\r\n", timeout=5)
            assert pa.command("AT+CGSN=1") == b"\r\n+CGSN:867726031076062\r\n" + OK
            assert pb.command("AT+CGSN=1") == b"\r\n+CGSN:861234567890123\r\n" + OK
            assert pb.command("AT+NBAND?") == b"\r\n+NBAND:8\r\n" + OK
        assert a.stop() == 0 and b.stop() == 0


def test_spy_and_timeline_files_record_the_session():
    with running_emulator(time_scale=1000, rrc_inactivity=5) as emu:
        with PtyClient(emu.path) as port:
            port.read_until(b"Neul\r\nOK\r\n", timeout=5)
            _wait_attached(port)
            assert port.command("AT+CSCON?") in (
                b"\r\n+CSCON:0,1\r\n" + OK, b"\r\n+CSCON:0,0\r\n" + OK,
            )  # fmt: skip
            time.sleep(0.05)  # 50 virtual seconds: the 5 s inactivity timer has fired
        assert emu.stop() == 0
        timeline = emu.timeline()
        spy = emu.spy()
    assert [r["state"] for r in timeline][:4] == ["boot", "search", "connected", "idle"]
    assert all(set(r) == {"t", "state", "ce"} for r in timeline)
    assert timeline[3]["t"] - timeline[2]["t"] == pytest.approx(5.0, abs=1e-5)
    sent = [r for r in spy if r["dir"] == "to_modem"]
    assert sent[0]["text"] == "AT+CGATT?\\r" and bytes.fromhex(sent[0]["hex"]) == b"AT+CGATT?\r"
    assert all(r["wall"] > 0 and r["t"] > 0 for r in spy)


def test_json_counters_after_stop():
    with running_emulator(time_scale=100, json=True) as emu:
        with PtyClient(emu.path) as port:
            port.read_until(b"Neul\r\nOK\r\n", timeout=5)
            port.command("AT+BOGUS")
        assert emu.stop() == 0
        stats = json.loads(emu.proc.stdout.readline())
    assert stats["commands"] == 1 and stats["errors"] == 1 and stats["reboots"] == 1


def test_bad_scenario_exits_1_with_the_reason(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"faults": [{"kind": "explode", "at": 1}]}')
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools", "emulate", "--scenario", str(bad)],
        capture_output=True,
        check=False,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "nbkit: " in proc.stderr and "kind must be one of" in proc.stderr


def test_udp_round_trip_through_the_subprocess():
    import socket

    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    echo.settimeout(5)
    with running_emulator(time_scale=100) as emu, PtyClient(emu.path) as port:
        port.read_until(b"Neul\r\nOK\r\n", timeout=5)
        _wait_attached(port)
        assert port.command("AT+NSONMI=2") == OK
        assert port.command("AT+NSOCR=DGRAM,17,0,1") == b"\r\n0\r\n" + OK
        eport = echo.getsockname()[1]
        assert port.command(f"AT+NSOSTF=0,127.0.0.1,{eport},0x400,3,010203") == (
            b"\r\n0,3\r\n" + OK
        )
        data, peer = echo.recvfrom(100)
        echo.sendto(data[::-1], peer)
        urc = f"+NSONMI:0,127.0.0.1,{eport},3,030201\r\n".encode()
        assert port.read_until(urc, timeout=5).endswith(urc)
    echo.close()


def test_pyserial_opens_the_pty_like_a_uart():
    import serial

    with running_emulator(time_scale=100) as emu:
        time.sleep(0.1)  # let the power-on banner pass (pyserial flushes input on open)
        with serial.Serial(emu.path, 9600, timeout=2) as uart:
            uart.write(b"AT+CGSN=1\r\n")
            assert uart.read_until(b"OK\r\n") == b"\r\n+CGSN:867726031076062\r\n\r\nOK\r\n"
