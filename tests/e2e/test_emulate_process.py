"""`nbkit emulate` as a real process: pty path first, several at once, clean stop, records.

The emulator alone (no `--clock sim:`) keeps a wall clock, scaled by `--time-scale`, for a DTE
that waits in wall time (a terminal, a C driver, pyserial): the CLI tests here run it that way
and check nothing that depends on how long the host takes. What checks device time drives it
from a DTE on a time master (`sim_dte`)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from host_tools.emulator.client import PtyClient, SimPtyClient
from host_tools.emulator.echo import udp_echo
from host_tools.emulator.process import running_emulator
from tests.support.simdte import sim_dte

pytestmark = pytest.mark.e2e
OK = b"\r\nOK\r\n"


@pytest.fixture(name="sim_dte")
def _sim_dte() -> Iterator[SimPtyClient]:
    """A DTE on its own time master: the emulator started with ``sim=sim_dte.spec`` keeps
    device time with it (the DTE joins first, so time waits for it)."""
    with sim_dte() as dte:
        yield dte


def _wait_attached(port: SimPtyClient, within_s: float = 30) -> None:
    """Ask AT+CGATT? every device second until attached."""
    deadline = port.now() + within_s
    while b"+CGATT:1" not in port.command("AT+CGATT?"):
        assert port.now() < deadline, "no attach"
        port.idle(1)


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
        assert "nbkit emulate: wall clock x100 (for a DTE in wall time" in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_at_scale_1_it_prints_the_real_time_clock_a_board_can_share():
    proc = subprocess.Popen(
        [sys.executable, "-m", "host_tools", "emulate"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().startswith("/dev/pts/")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        err = proc.stderr.read()
        wall, epoch, scale = err.split("--clock ")[1].split()[0].split(",")
        assert float(scale) == 1.0 and float(epoch) == int(float(wall)), err
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


def test_spy_and_timeline_files_record_the_session(sim_dte):
    with running_emulator(sim=sim_dte.spec, rrc_inactivity=5) as emu:
        with sim_dte.open(emu.path) as port:
            port.read_until(b"Neul\r\nOK\r\n", timeout=5)
            _wait_attached(port)
            assert port.command("AT+CSCON?") == b"\r\n+CSCON:0,1\r\n" + OK
            port.idle(50)  # 50 device seconds: the 5 s inactivity timer has fired
            assert port.command("AT+CSCON?") == b"\r\n+CSCON:0,0\r\n" + OK
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


def test_udp_round_trip_through_the_subprocess(sim_dte):
    master = sim_dte.sim.spec.split(":")[1:]  # the echo keeps the same device time
    with (
        udp_echo(master=(master[0], int(master[1])), prefix=b"re:") as eport,
        running_emulator(sim=sim_dte.spec) as emu,
        sim_dte.open(emu.path) as port,
    ):
        port.read_until(b"Neul\r\nOK\r\n", timeout=5)
        _wait_attached(port)
        assert port.command("AT+NSONMI=2") == OK
        assert port.command("AT+NSOCR=DGRAM,17,0,1") == b"\r\n0\r\n" + OK
        sent_at = port.now()
        assert port.command(f"AT+NSOSTF=0,127.0.0.1,{eport},0x400,3,010203") == (
            b"\r\n0,3\r\n" + OK
        )
        urc = f"+NSONMI:0,127.0.0.1,{eport},6,72653A010203\r\n".encode()
        assert port.read_until(urc, timeout=5).endswith(urc)
        assert 0 < port.now() - sent_at < 5  # the echo answered at once, in device time


def test_pyserial_opens_the_pty_like_a_uart():
    import serial

    reply = b"\r\n+CGSN:867726031076062\r\n\r\nOK\r\n"
    with running_emulator(time_scale=100) as emu:
        with serial.Serial(emu.path, 9600, timeout=2) as uart:  # a wall-time DTE
            uart.read_until(b"Neul\r\nOK\r\n")  # booted (or open flushed the banner: 2 s)
            uart.reset_input_buffer()
            uart.write(b"AT+CGSN=1\r\n")
            assert uart.read_until(b"OK\r\n") == reply
