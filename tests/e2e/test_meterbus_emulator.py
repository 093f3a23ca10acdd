"""`nbkit meterbus` on a real pty, read by the firmware codec: from CPython over pyserial and
from the MicroPython unix port (over nbkit.hal.tty.TtyTransport)."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import serial

from host_tools import REPO_ROOT
from host_tools.meterbus import bus, cjt188
from tests.micropython_runner import run_micropython

pytestmark = pytest.mark.e2e


class Emulator:
    """A running `nbkit meterbus` process: its pty path and UDP control port."""

    def __init__(self, *args: str) -> None:
        cmd = [sys.executable, "-m", "host_tools", "meterbus", "--control-port", "0", *args]
        self.proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0
        )
        self.path = self._line()
        self.port = int(self._line().rsplit(":", 1)[1])

    def _line(self) -> str:
        # byte by byte from the pipe: a buffered readline could swallow the next line
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        line = b""
        while not line.endswith(b"\n"):
            ready, _, _ = select.select([fd], [], [], 10)
            assert ready, f"the emulator printed only {line!r}"
            byte = os.read(fd, 1)
            assert byte, f"the emulator exited after {line!r}"
            line += byte
        return line.decode().strip()

    def control(self, **cmd: Any) -> dict[str, Any]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(json.dumps(cmd).encode(), ("127.0.0.1", self.port))
            answer: dict[str, Any] = json.loads(s.recv(65536))
            return answer

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=10)


@pytest.fixture
def water() -> Iterator[Emulator]:
    emu = Emulator("--protocol", "cjt188", "--address", "11223344556677", "--set", "total=4242")
    yield emu
    if emu.proc.poll() is None:
        emu.stop()


@pytest.fixture
def electricity() -> Iterator[Emulator]:
    emu = Emulator("--protocol", "dlt645", "--address", "210987654321", "--set", "forward=777")
    yield emu
    if emu.proc.poll() is None:
        emu.stop()


class SerialTransport:
    """The firmware Transport contract over pyserial (host side)."""

    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, 2400, parity=serial.PARITY_EVEN, timeout=0)

    def write(self, data: bytes) -> int:
        return int(self.port.write(data) or 0)

    def read(self, n: int) -> bytes:
        return bytes(self.port.read(n))

    def wait(self, timeout_ms: int) -> bool:
        ready, _, _ = select.select([self.port.fileno()], [], [], max(0, timeout_ms) / 1000)
        return bool(ready)

    def close(self) -> None:
        self.port.close()


class HostClock:
    """nbkit Clock contract on CPython time."""

    def ticks_ms(self) -> int:
        return int(time.monotonic() * 1000)

    def ticks_diff(self, a: int, b: int) -> int:
        return a - b

    def ticks_add(self, a: int, d: int) -> int:
        return a + d


def test_cpython_reads_the_emulated_water_meter_over_pyserial(water: Emulator) -> None:
    link = bus.Bus(SerialTransport(water.path), HostClock(), timeout_ms=1000, retries=1)
    meter = cjt188.Meter(link)
    assert meter.read_address() == "11223344556677"
    assert meter.read().total == 4242
    water.control(set={"total": 4300})
    assert meter.read().total == 4300
    assert meter.valve(False) == "closed"
    assert water.control(get=True)["state"]["valve"] == "closed"


MP_PRELUDE = """
import json
from nbkit.hal.tty import TtyTransport
from nbkit.hal.clock import Clock
from nbkit.sense import bus, cjt188, dlt645
link = bus.Bus(TtyTransport(%r), Clock(), timeout_ms=400, retries=2)
out = {}
"""

MP_WATER = """
m = cjt188.Meter(link)
out["address"] = m.read_address()
r = m.read()
out["total"] = r.total
out["unit"] = r.unit_name()
out["valve"] = m.valve(False)
out["valve_after"] = m.read().valve
out["retries"] = link.stats[1]
"""

MP_ABNORMAL = """
try:
    cjt188.Meter(link, address="11223344556677").read()
except cjt188.MeterError as e:
    out["error_status"] = e.status
"""

MP_GARBAGE = """
out["total"] = cjt188.Meter(link, address="11223344556677").read().total
out["discarded"] = link.stats[2]
"""

MP_ELECTRICITY = """
m = dlt645.Meter(link)
out["address"] = m.read_address()
out["energy"] = m.energy()
out["voltage"] = m.read(dlt645.DI_VOLTAGE_A)
try:
    m.read(0x04000101)
except dlt645.MeterError as e:
    out["error"] = e.error
"""


def _run_mp(emu: Emulator, body: str) -> dict[str, Any]:
    script = MP_PRELUDE % emu.path + body + "print(json.dumps(out))\n"
    proc = run_micropython(["-c", script], timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_micropython_reads_the_emulated_water_meter_over_the_pty(water: Emulator) -> None:
    water.control(fault="no_reply", count=1)  # the first request goes unanswered
    result = _run_mp(water, MP_WATER)
    assert result["address"] == "11223344556677"
    assert (result["total"], result["unit"]) == (4242, "m3")
    assert result["valve"] == "closed" and result["valve_after"] == "closed"
    assert result["retries"] == 1


def test_micropython_gets_a_clear_error_for_an_abnormal_reply(water: Emulator) -> None:
    water.control(fault="abnormal", count=1)
    assert _run_mp(water, MP_ABNORMAL)["error_status"] & 0x0001


def test_micropython_resyncs_on_line_garbage(water: Emulator) -> None:
    water.control(fault="garbage", count=1)
    result = _run_mp(water, MP_GARBAGE)
    assert result["total"] == 4242 and result["discarded"] > 0


def test_micropython_reads_the_emulated_electricity_meter(electricity: Emulator) -> None:
    electricity.control(set={"reverse": 23})
    result = _run_mp(electricity, MP_ELECTRICITY)
    assert result["address"] == "210987654321"
    assert result["energy"] == [800, 777, 23]  # combined = forward + reverse, in 0.01 kWh
    assert result["voltage"] == [2201, 1, "V"]
    assert result["error"] == 2  # unknown DI: "no data requested"


def test_first_line_is_the_pty_and_signals_end_it_cleanly() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        emu = Emulator("--protocol", "dlt645")
        assert emu.path.startswith("/dev/pts/"), emu.path
        assert emu.stop(sig) == 0


def test_bad_options_are_refused() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools", "meterbus", "--protocol", "cjt188", "--fault", "x"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert proc.returncode == 1 and "unknown fault" in proc.stderr, proc.stderr
