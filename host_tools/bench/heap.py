"""Bench suite: peak live heap and minimum free heap of the wakes of each device profile.

Each case runs the virtual rig (collector, modem emulator, virtual board with the firmware as
compiled .mpy in its ROM, run in place as a board runs its frozen or ROMFS modules, see
host_tools/vboard/rom.py; as `nbkit demo` does, on the rig's time master where it can) for a
few device hours with `nbkit vboard --heap-watch` (firmware/nbkit/hal/heapwatch.py): every UART
and flash access
collects the garbage and samples the live heap, and each wake ends with
`nbkit: heap peak P free-min F of T`. The suite prints, per profile, the largest peak of any
wake (the first boot, a sample, a report), the smallest free heap, and the board's heap (its
`heap_bytes` with the `w` suffix: the unix port's 64-bit objects take twice the bytes of the
same objects on a 32-bit board, so the peak is also shown in the board's 32-bit KiB). A
MemoryError on the console is reported.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools.device import boards
from host_tools.errors import CommandError
from host_tools.rig.profiles import grow_meter
from host_tools.rig.rig import BOARD_FOR_MODEM, EPOCH, Rig, RigOptions

#: (profile, modem, transport) measured by `nbkit bench --suite heap`
CASES: tuple[tuple[str, str, str], ...] = (
    ("water", "bc28", "udp"),
    ("water", "bc660k", "udp"),
    ("water", "ec200", "mqtt"),
    ("gas-cjt188", "bc28", "udp"),
    ("electricity-dlt645", "bc28", "udp"),
    ("heat-mbus", "bc28", "udp"),
    ("smoke", "bc28", "udp"),
)
#: device hours per case: the first boot (service window, boot report), samples and the report
#: 4 h later; a smoke alarm sleeps until its heartbeat after the boot report
HOURS = {"smoke": 0.5}
DEFAULT_HOURS = 4.5
_LINE = re.compile(r"nbkit: heap peak (\d+) free-min (\d+) of (\d+)")
_QSTRS = re.compile(r"qstr pool: n_pool=\d+, n_qstr=(\d+)")
#: names MicroPython's first six qstr pools hold (20, 40, ... 640 entries); the next name takes
#: a seventh pool of 1,280 entries at once (14 KB x64): docs/architecture.md, "Heap"
SIX_POOLS = 1260
TARGET_KIB = 64  # issue 15: the water profile's heap target (32-bit KiB)


@dataclass
class HeapFigures:
    """What the wakes of one run printed."""

    peak: int  # largest live heap of any wake, bytes (x64)
    names: int  # most names any wake interned (MicroPython's qstrs)
    free_min: int  # smallest free heap at that moment, bytes (x64)
    total: int  # the MicroPython heap, bytes (x64)
    wakes: int
    memory_errors: int
    board: str
    heap_bytes: int  # the board's heap, bytes of a 32-bit MCU (the vboard adds the `w` suffix)


def parse(lines: list[str]) -> tuple[list[tuple[int, int, int]], int]:
    """(peak, free-min, total) of every wake in console ``lines``, and the MemoryError count."""
    wakes = [tuple(int(g) for g in m.groups()) for m in map(_LINE.search, lines) if m]
    errors = sum("MemoryError" in line for line in lines)
    return wakes, errors  # type: ignore[return-value]


def names_interned(lines: list[str]) -> int:
    """The most names (qstrs) a wake had interned, from the pool lines the heap watch prints."""
    return max([int(m.group(1)) for m in map(_QSTRS.search, lines) if m] or [0])


def measure(profile: str, modem: str, transport: str, hours: float | None = None) -> HeapFigures:
    """Run one rig with the heap watch and collect the figures of its wakes."""
    hours = hours if hours is not None else HOURS.get(profile, DEFAULT_HOURS)
    opts = RigOptions(
        # the time master: the collections cost no device time
        clock="sim",
        modem=modem,
        transport=transport,
        profile=profile,
        vboard_args=["--heap-watch"],
    )
    with tempfile.TemporaryDirectory(prefix="nbkit-bench-heap-") as tmp:
        rig = Rig(Path(tmp), opts)
        try:
            rig.start()
            if profile == "water":
                rig.control(f"pulse pulse_a {int(hours * 180) + 100} 20000")
            end = EPOCH + hours * 3600
            for t in range(int(EPOCH) + 300, int(end), 300):
                rig.run_until(t)
                if profile in ("gas-cjt188", "electricity-dlt645", "heat-mbus"):
                    grow_meter(rig, 20)  # the meter's registers follow device time
            rig.run_until(end)
        finally:
            rig.stop()
        lines = list(rig.console_lines)
    wakes, errors = parse(lines)
    if not wakes:
        raise CommandError(f"heap bench {profile}/{modem}: no wake printed its heap figures")
    board = BOARD_FOR_MODEM[modem]
    return HeapFigures(
        peak=max(w[0] for w in wakes),
        names=names_interned(lines),
        free_min=min(w[1] for w in wakes),
        total=wakes[0][2],
        wakes=len(wakes),
        memory_errors=errors,
        board=board,
        heap_bytes=boards.load(board)["heap_bytes"],
    )


def run(report: Any) -> None:
    """Print peak and minimum free heap per profile (`nbkit bench --suite heap`)."""
    report.heading(
        "heap", "Heap per wake (virtual board, .mpy run in place from its ROM, --heap-watch)"
    )
    for profile, modem, transport in CASES:
        f = measure(profile, modem, transport)
        name = f"{profile} ({modem}/{transport})"
        kib = f.heap_bytes // 1024
        share = f"{f.peak / 2 / 1024:.1f} of {kib} KiB (32-bit)"
        target = "within" if f.peak <= TARGET_KIB * 2048 else "over"
        report.figure(
            f"{name}: peak live heap",
            f.peak,
            "bytes",
            f"x64; {share}, {target} {TARGET_KIB} KiB; {f.wakes} wakes on {f.board}",
        )
        report.figure(
            f"{name}: names interned",
            f.names,
            "qstrs",
            f"most in one wake; the first six pools hold {SIX_POOLS}",
        )
        errors = f"; {f.memory_errors} MemoryError" if f.memory_errors else ""
        report.figure(
            f"{name}: minimum free heap",
            f.free_min,
            "bytes",
            f"of {f.total} (x64){errors}",
        )
