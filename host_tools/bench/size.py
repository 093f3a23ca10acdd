"""Bench suite: compiled firmware size per board (bytes of .mpy / .py on the device), and the
heap each device profile's modules take once loaded, as a share of the virtual board's heap."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from nbkit import profiles

from host_tools.device import boards, build
from host_tools.errors import CommandError
from host_tools.vboard.mpy import run_micropython


def profile_modules(profile: str) -> list[str]:
    """What one wake of ``profile`` imports beyond the common app (device, wiring, AT engine,
    BC28 driver, UDP link, queue, config): the modules `app.wiring.build` loads for it."""
    _, app, bus, _, _ = profiles.get(profile)
    if app == "smoke":
        return ["nbkit.app.smoke_app", "nbkit.sense.smoke"]
    reader = ["nbkit.app.water"] if bus is None else ["nbkit.app.busmeter", f"nbkit.sense.{bus}"]
    if bus == "mbus":  # the M-Bus application layer and its unit tables load with the codec
        reader += ["nbkit.sense.mbus_data", "nbkit.sense.mbus_vif"]
    return ["nbkit.app.meter", *reader]


COMMON = ["nbkit.app.device", "nbkit.modem.bc95", "nbkit.app.link"]
#: whose heap: the board's heap_bytes with MicroPython's `w` suffix (scaled by the word size, so
#: the unix port's 64-bit objects take the share they take on a 32-bit board), as the vboard runs
BOARD = "unix_sim"

_PROBE = """
import gc, json, sys
gc.collect(); base = gc.mem_alloc()
for m in %r:
    __import__(m)
gc.collect(); common = gc.mem_alloc()
for m in %r:
    __import__(m)
gc.collect()
print(json.dumps([common - base, gc.mem_alloc() - base, gc.mem_alloc() + gc.mem_free()]))
"""


def profile_heap(build_dir: Path, profile: str, heap_bytes: int) -> tuple[int, int, int]:
    """(common modules, common + profile modules, heap total) in bytes, after gc.collect()."""
    code = _PROBE % (COMMON, profile_modules(profile))
    proc = run_micropython(
        ["-c", code], path=[str(build_dir)], heap=f"{heap_bytes}w", cwd=build_dir
    )
    if proc.returncode != 0:
        raise CommandError(f"loading the {profile} modules failed in MicroPython:\n{proc.stderr}")
    common, total, heap = json.loads(proc.stdout.strip().splitlines()[-1])
    return common, total, heap


def run(report: Any) -> None:
    report.heading("firmware-size", "Firmware size per board (mpy-cross output)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in boards.board_names():
            built = build.build_board(name, Path(tmp))
            report.figure(f"{name}: {len(built)} modules", sum(m.size for m in built), "bytes")
        heap_bytes = boards.load(BOARD)["heap_bytes"]
        for profile in profiles.names():
            common, total, heap = profile_heap(Path(tmp) / BOARD, profile, heap_bytes)
            report.figure(
                f"{profile}: loaded modules, share of the board heap",
                100 * total / heap,
                "%",
                note=f"common app {100 * common / heap:.0f} % of {BOARD}'s "
                f"{heap_bytes // 1024} KiB (32-bit); frozen into the firmware they run from flash",
            )
