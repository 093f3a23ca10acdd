"""Run the firmware's report wake (MicroPython) against ``nbkit emulate`` and measure it.

One wake = one MicroPython process running ``tests/e2e/power_wake.py`` (a new process per wake,
as after an MCU deep sleep) on the emulator's pty, in the emulator's virtual time (``--clock``).
It resumes or attaches, reads the granted timers, sends one reading with release assistance,
reads the ack from a UDP peer on 127.0.0.1 and applies the power policy. The e2e tests and the
bench suite ``power`` use this: the bench prints the AT commands of a report after a PSM wake as
measured in the emulator's spy log, and the charge of its recorded state timeline.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from host_tools import FIRMWARE_DIR, REPO_ROOT
from host_tools.emulator.process import EmulatorProcess, running_emulator
from host_tools.energy import airpath
from host_tools.energy.model import Profile, Record, Result, integrate
from host_tools.vboard.mpy import run_micropython

SCRIPT = REPO_ROOT / "tests" / "e2e" / "power_wake.py"
#: the wake script is compiled from source in the process: the compiler needs the room
HEAP = "512K"
#: virtual seconds per wall second: AT round trips (~1 ms wall) stay well under a virtual second
SCALE = 100.0
PAYLOAD = b"reading:1234"


@contextmanager
def ack_server() -> Iterator[int]:
    """A UDP peer on 127.0.0.1 answering every datagram with b"ack:" + it; yields its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(2048)
            except OSError:
                continue
            sock.sendto(b"ack:" + data, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def run_wake(
    emu: EmulatorProcess, port: int, fallback: str = "cfun0", report_s: int = 7800
) -> dict[str, list[str]]:
    """One wake of the firmware; its ``wake:`` output lines by their first word.

    Raises RuntimeError with the MicroPython output when the process fails.
    """
    args = [str(SCRIPT), emu.path, emu.clock_arg, str(port), fallback, str(report_s), "1200"]
    proc = run_micropython(args, path=[".frozen", str(FIRMWARE_DIR)], heap=HEAP, cwd=REPO_ROOT)
    if proc.returncode != 0:
        raise RuntimeError(
            f"firmware wake failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    lines: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("wake: "):
            word, _, rest = line[6:].partition(" ")
            lines[word] = rest.split(" ") if rest else []
    return lines


def wait_state(emu: EmulatorProcess, state: str, timeout: float = 10.0) -> int:
    """Wait (wall time) until the timeline's last state is ``state``; returns its index."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        timeline = emu.timeline()
        if timeline and timeline[-1]["state"] == state:
            return len(timeline) - 1
        time.sleep(0.01)
    raise RuntimeError(f"the modem never reached {state}: {emu.timeline()[-6:]}")


def commands(emu: EmulatorProcess) -> list[str]:
    """Every AT command the firmware wrote so far, from the spy log."""
    return [cmd for _, cmd in airpath.commands_from_spy(emu.spy())]


@dataclass
class PsmWakeReport:
    """A report after a wake from PSM as the emulator saw it."""

    wake: dict[str, list[str]]  # the firmware's output
    commands: list[str]  # AT commands of the wake, in order
    air: list[str]  # those that went over the air (short names)
    local: list[str]  # the others
    timeline: list[dict[str, Any]]  # the whole recorded timeline
    report: list[Record]  # from the PSM before the wake to the PSM after it

    def charge(self, profile: Profile) -> Result:
        """The recorded report's charge (one report)."""
        return integrate(self.report, profile, reports=1)


def measure_psm_wake_report(scale: float = SCALE, **emulator_options: Any) -> PsmWakeReport:
    """Attach once, let the modem reach PSM, then measure one report after a PSM wake."""
    with (
        ack_server() as port,
        running_emulator("bc28", time_scale=scale, **emulator_options) as emu,
    ):
        run_wake(emu, port)  # first wake: attach
        wait_state(emu, "psm")
        before = len(commands(emu))
        out = run_wake(emu, port)  # the next wake: the modem slept in PSM meanwhile
        wait_state(emu, "psm")
        cmds = commands(emu)[before:]
        timeline = emu.timeline()
    psm_at = [i for i, r in enumerate(timeline) if r["state"] == "psm"]
    one = [Record(float(r["t"]), r["state"], int(r["ce"])) for r in timeline[psm_at[-2] :]]
    air, local = airpath.split(cmds)
    return PsmWakeReport(out, cmds, air, local, timeline, one)
