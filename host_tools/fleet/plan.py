"""A fleet request checked and split into cells, before anything starts.

Checks every value (no process is started for a request that cannot run), estimates the
memory the run needs from measured per-meter and per-cell figures and refuses a run beyond the
machine's available memory, then gives each meter its device id and report phase and each cell
its meters and the device time the run stops at.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from host_tools.errors import CommandError
from host_tools.fleet.cell import CellSpec
from host_tools.rig.rig import EPOCH

#: resident memory of one meter (emulator + vboard host + its fork server + the MicroPython
#: process of the boot that runs), MB: the peak `nbkit fleet --json` reports as
#: peak_rss_per_meter_mb (measured 63 at 10 and at 1,000 meters, water, BC28), rounded up
MB_PER_METER = 70
#: one cell's own processes (the cell driver with its time master, and the collector), MB
MB_PER_CELL = 90
#: host CPU seconds one meter-day costs (measured 1.18 at 10 meters, 1.22 at 1,000;
#: docs/scale.md), rounded up
CPU_S_PER_METER_DAY = 1.4
#: device ids of the fleet: FIRST_DEVICE, FIRST_DEVICE + 1, ...
FIRST_DEVICE = 100_000
#: limits that catch a typo before a run starts (a million meters is no fleet for one host)
MAX_METERS = 100_000
MAX_HOURS = 24 * 366
MAX_WORKERS = 256
#: device time after the last meter's last report (the ack and the collector's store)
TAIL_S = 600


@dataclass
class Request:
    """What `nbkit fleet` was asked for (cells and workers None: the defaults)."""

    meters: int
    hours: float
    spread: float = 0.0
    cells: int | None = None
    workers: int | None = None
    read_interval_s: int = 900
    report_interval_s: int = 14400
    flow_period_s: int = 20
    hang_s: float = 120.0
    profile: str = "water"


@dataclass
class Plan:
    cells: list[CellSpec]
    workers: int
    memory_mb: int
    available_mb: int
    #: wall seconds the run should take here (CPU per meter-day over the usable cores)
    wall_estimate_s: float = 0.0


def available_mb() -> int:
    """MemAvailable from /proc/meminfo (MB); a very large number where there is none."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 1 << 30


def check(req: Request) -> tuple[int, int]:
    """Refuse impossible values (CommandError naming the option); -> (cells, workers)."""
    from nbkit.store import config

    meters, hours, spread = req.meters, req.hours, req.spread
    read_s, report_s, flow_period = req.read_interval_s, req.report_interval_s, req.flow_period_s

    if not 1 <= meters <= MAX_METERS:
        raise CommandError(f"--meters {meters}: give 1 to {MAX_METERS:,} meters")
    if not (hours > 0 and hours <= MAX_HOURS and math.isfinite(hours)):
        raise CommandError(f"--hours {hours:g}: give more than 0 and at most a year ({MAX_HOURS})")
    for option, name, value in (
        ("--read-interval", "read_interval_s", read_s),
        ("--report-interval", "report_interval_s", report_s),
    ):
        why = config.FIELDS[name][2](value)
        if why:
            raise CommandError(f"{option} {value}: {why} (seconds, as the device config takes)")
    if report_s < read_s:
        raise CommandError("--report-interval must not be shorter than --read-interval")
    if not (0 <= spread < report_s and math.isfinite(spread)):
        raise CommandError(
            f"--spread {spread:g}: give 0 (all report at once) up to less than the report "
            f"interval ({report_s} s)"
        )
    if flow_period <= 0:
        raise CommandError(f"--flow-period {flow_period}: give seconds, more than 0")
    cpus = os.cpu_count() or 1
    workers = cpus if req.workers is None else req.workers
    if not 1 <= workers <= MAX_WORKERS:
        raise CommandError(f"--workers {workers}: give 1 to {MAX_WORKERS} (this machine: {cpus})")
    cells = req.cells
    if cells is None:
        cells = min(meters, max(workers, math.ceil(meters / 10)))
    if not 1 <= cells <= meters:
        raise CommandError(f"--cells {cells}: give 1 to --meters ({meters})")
    if not (req.hang_s > 0 and math.isfinite(req.hang_s)):
        raise CommandError(f"--hang-s {req.hang_s:g}: give wall seconds, more than 0")
    return cells, workers


def resident_mb(meters: int, cells: int, workers: int) -> int:
    """Memory of the cells that run at once (the largest ``workers`` of them)."""
    per_cell = math.ceil(meters / cells)
    return min(cells, workers) * (per_cell * MB_PER_METER + MB_PER_CELL)


def make(workdir: Path, req: Request) -> Plan:
    """Check ``req``, then device ids, phases and cells; refuses a run the machine's memory
    cannot hold."""
    cells, workers = check(req)
    meters, hours, spread = req.meters, req.hours, req.spread
    need = resident_mb(meters, cells, workers)
    have = available_mb()
    if need > have:
        per_cell = math.ceil(meters / cells)
        raise CommandError(
            f"{meters:,} meters in {cells} cells on {workers} workers need about {need:,} MB "
            f"at once ({min(cells, workers)} cells x ({per_cell} meters x {MB_PER_METER} MB + "
            f"{MB_PER_CELL} MB)), this machine has {have:,} MB available - use fewer --workers "
            f"or more --cells, or run the cells on more machines (docs/scale.md)"
        )
    report_s = req.report_interval_s
    phases = [int(i * spread // meters) for i in range(meters)]
    hours_end = EPOCH + hours * 3600
    # each meter's first report at or after the last slot carries that slot's reading
    last = max(hours_end + (p - hours_end) % report_s for p in set(phases))
    end_s = last - EPOCH + TAIL_S
    specs = []
    for c in range(cells):
        lo, hi = c * meters // cells, (c + 1) * meters // cells
        members = [
            {"index": i, "device": FIRST_DEVICE + i, "phase": phases[i]} for i in range(lo, hi)
        ]
        specs.append(
            CellSpec(
                index=c,
                workdir=str(workdir / f"cell{c}"),
                meters=members,
                hours=hours,
                end_s=end_s,
                profile=req.profile,
                read_interval_s=req.read_interval_s,
                report_interval_s=req.report_interval_s,
                flow_period_s=req.flow_period_s,
                hang_s=req.hang_s,
            )
        )
    cores = min(workers, cells, os.cpu_count() or 1)
    wall = meters * hours / 24 * CPU_S_PER_METER_DAY / cores
    return Plan(specs, workers, need, have, wall)
