"""Bench suite: the firmware AT driver's cost per attach+send cycle, measured in MicroPython.

Runs ``tests/firmware/at_bench.py`` in the MicroPython unix port: the BC95 driver attaches,
opens a UDP socket, sends 32 bytes and receives one datagram against the scripted modem, in
virtual time. Reports AT round trips and UART bytes per phase, and heap: live peak above the
baseline (collected at every transport call; target <= 32 KB), bytes allocated per cycle, and
the heap the driver modules take once imported (from .py source and as mpy-cross output).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from host_tools import FIRMWARE_DIR, REPO_ROOT, build
from host_tools.errors import CommandError
from host_tools.mpy import micropython_binary

SCRIPT = REPO_ROOT / "tests" / "firmware" / "at_bench.py"
HEAP = "128K"
PEAK_TARGET = 32 * 1024


def measure(firmware: Path = FIRMWARE_DIR) -> dict[str, int]:
    """Run the MicroPython benchmark script with the firmware from `firmware`; its figures."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", str(firmware), str(SCRIPT.parent)])
    proc = subprocess.run(
        [micropython_binary(), "-X", f"heapsize={HEAP}", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=str(REPO_ROOT),
        check=False,
    )
    if proc.returncode != 0:
        raise CommandError(f"AT benchmark failed in MicroPython:\n{proc.stdout}{proc.stderr}")
    figures: dict[str, int] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def run(report: Any) -> None:
    """Print the AT driver figures (`nbkit bench --suite at-driver`)."""
    report.heading("at-driver", "AT driver (BC95 profile, MicroPython, scripted modem)")
    f = measure()
    report.figure("AT round trips per attach+send", f["attach_send_round_trips"], "commands")
    report.figure("UART bytes out per attach+send", f["attach_send_bytes_out"], "bytes")
    report.figure("UART bytes in per attach+send", f["attach_send_bytes_in"], "bytes")
    report.figure("AT round trips per receive (NSORF + re-check)", f["receive_round_trips"])
    note = "x64 unix port, 8-byte words"
    report.figure("driver modules loaded from .py source", f["modules_bytes"], "bytes", note)
    with tempfile.TemporaryDirectory() as tmp:
        build.build_board("unix_sim", Path(tmp))
        compiled = measure(Path(tmp) / "unix_sim")
    report.figure("driver modules loaded as .mpy", compiled["modules_bytes"], "bytes", note)
    report.figure("engine + driver objects", f["engine_and_driver_bytes"], "bytes")
    peak = f["peak_heap_above_baseline"]
    verdict = "within" if peak <= PEAK_TARGET else "OVER"
    report.figure(
        "peak live heap above baseline",
        peak,
        "bytes",
        f"{verdict} the {PEAK_TARGET // 1024} KB target",
    )
    report.figure("heap allocated per cycle (gc off)", f["allocated_per_cycle"], "bytes")
