"""`nbkit fleet`: N virtual water meters, each the real firmware on its own virtual board with its
own emulated modem, run as independent cells and merged into one summary.

A cell (host_tools/fleet/cell.py) is one time master + one collector (UDP + SQLite) + M meters;
cells share nothing and run as worker processes (`--workers` at a time, default one per CPU).
The summary is the demo's for the whole fleet (readings expected / taken / delivered / lost,
duplicates stored, uplinks), the collector's figures (peak datagrams per device second as one
collector for every meter would see them, rows stored) and the host's cost (wall, CPU, peak RSS).
A meter that lost a reading or missed a sample slot, a cell whose participant crashed or hung:
a line naming it on stderr and exit 1 (the summary is printed all the same).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from host_tools.errors import CommandError
from host_tools.fleet import figures, plan
from host_tools.fleet.cell import spec_json

EPILOG = """\
Each meter reports at its own phase: meter i of N reports i*S/N device seconds after each
report slot (--spread S; 0: every meter at once), so the collector sees the arrivals a real
fleet gives. Memory is estimated before anything starts (about {per_meter} MB per meter,
{per_cell} MB per cell, for the cells that run at once) and a run beyond MemAvailable is refused.

examples:
  nbkit fleet --meters 10 --hours 24
  nbkit fleet --meters 50 --hours 24 --spread 600 --workers 2 --json
  nbkit fleet --meters 3 --hours 6 --cells 2 --report-interval 3600
"""


def _positive_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (__doc__ or "").replace("`nbkit fleet`: N", "N", 1).strip()
    parser.epilog = EPILOG.format(per_meter=plan.MB_PER_METER, per_cell=plan.MB_PER_CELL)
    parser.add_argument("--meters", type=_positive_int, help="meters to run (required)")
    parser.add_argument("--hours", type=_number, default=24.0, help="device hours (24)")
    parser.add_argument(
        "--profile",
        choices=("water",),
        default="water",
        help="the device every meter is (water: pulse input, BC28 over UDP)",
    )
    parser.add_argument(
        "--spread",
        type=_number,
        default=0.0,
        metavar="S",
        help="spread the meters' report phases over S device seconds (0: all at once)",
    )
    parser.add_argument(
        "--cells",
        type=_positive_int,
        metavar="K",
        help="independent cells (each its own time master and collector); default: one per "
        "worker, at most 10 meters per cell",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        metavar="W",
        help=f"cells run at once (default: CPU count, {os.cpu_count()})",
    )
    parser.add_argument("--read-interval", type=int, default=900, help="seconds (900)")
    parser.add_argument("--report-interval", type=int, default=14400, help="seconds (14400)")
    parser.add_argument(
        "--flow-period", type=int, default=20, help="seconds between 1-litre pulses (20)"
    )
    parser.add_argument(
        "--hang-s",
        type=_number,
        default=120.0,
        help="wall seconds a cell's device time may stand still before the cell is declared "
        "hung and stopped (120)",
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep every cell's files here (default: a temporary folder)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument(
        "--only-cell",
        type=_positive_int,
        metavar="I",
        help="run only cell I (0..K-1) of this plan and print its raw result JSON (one task "
        "of a distributed run, e.g. a Kubernetes indexed Job; docs/scale.md)",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        metavar="RESULT",
        help="merge the results of --only-cell runs into the fleet's summary (no run)",
    )


def run(args: argparse.Namespace) -> int:
    if args.merge:
        return _merge(args)
    if args.meters is None:
        raise CommandError("--meters is required - e.g. nbkit fleet --meters 10 --hours 24")
    req = plan.Request(
        meters=args.meters,
        hours=args.hours,
        spread=args.spread,
        cells=args.cells,
        workers=args.workers,
        read_interval_s=args.read_interval,
        report_interval_s=args.report_interval,
        flow_period_s=args.flow_period,
        hang_s=args.hang_s,
        profile=args.profile,
    )
    cells, _ = plan.check(req)  # before any folder is made
    if args.only_cell is not None:
        if not 0 <= args.only_cell < cells:
            raise CommandError(f"--only-cell {args.only_cell}: give 0 to {cells - 1}")
        req.workers = 1  # one cell resident here
    with tempfile.TemporaryDirectory(prefix="nbkit-fleet-") as tmp:
        workdir = args.workdir or Path(tmp)
        try:
            workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"--workdir {workdir}: cannot make it ({exc.strerror})") from exc
        p = plan.make(workdir, req)
        _say(
            f"{args.meters} meters x {args.hours:g} device h in {len(p.cells)} cells on "
            f"{p.workers} workers: about {p.memory_mb:,} MB of {p.available_mb:,} MB available, "
            f"about {_duration(p.wall_estimate_s)} wall with those cores to itself "
            f"({plan.CPU_S_PER_METER_DAY:g} CPU s per meter-day)"
        )
        if args.only_cell is not None:
            p.cells = [p.cells[args.only_cell]]
        wall0 = time.monotonic()
        results = _run_cells(p)
        wall = time.monotonic() - wall0
    if args.only_cell is not None:
        print(json.dumps(results[0]))
        return 0 if not figures.failures(results) else 1
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = figures.merge(results, wall, kids.ru_utime + kids.ru_stime, kids.ru_maxrss / 1024)
    return _finish(args, summary, results)


def _merge(args: argparse.Namespace) -> int:
    """The fleet summary of --only-cell results (host cost: CPU summed, wall the slowest)."""
    results = []
    for path in args.merge:
        try:
            results.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise CommandError(f"--merge {path}: not a cell result ({exc})") from exc
        if not isinstance(results[-1], dict):
            raise CommandError(f"--merge {path}: not a cell result (a JSON object)")
    wall = max(float(r.get("wall_s", 0)) for r in results)
    cpu = sum(float(r.get("cpu_s", 0)) for r in results)
    rss = max(float(r.get("max_process_rss_mb", 0)) for r in results)
    return _finish(args, figures.merge(results, wall, cpu, rss), results)


def _finish(args: argparse.Namespace, summary: dict[str, Any], results: list[dict]) -> int:
    """Print the fleet summary (JSON or a table); exit 1 naming what the cells failed."""
    bad = summary["failures"] = figures.failures(results)
    if args.json:
        print(json.dumps(summary))
    elif summary["meters"]:
        _print(summary)
    if bad:
        raise CommandError("the fleet did not deliver what it should:\n" + "\n".join(bad))
    return 0


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _say(text: str) -> None:
    print(f"nbkit fleet: {text}", file=sys.stderr, flush=True)


def _run_cells(p: plan.Plan) -> list[dict[str, Any]]:
    """Every cell as a worker process, ``p.workers`` at a time; the first failure stops the
    rest (SIGTERM: each cell stops its processes and reports)."""
    pending = list(p.cells)
    running: dict[int, tuple[subprocess.Popen[str], Any]] = {}
    results: list[dict[str, Any]] = []
    stopping = False
    old = signal.signal(signal.SIGTERM, _on_term)
    try:
        while pending or running:
            while pending and len(running) < p.workers and not stopping:
                spec = pending.pop(0)
                Path(spec.workdir).mkdir(parents=True, exist_ok=True)
                with open(Path(spec.workdir) / "result.json", "w") as out:  # no pipe to fill
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "host_tools.fleet.cell"],
                        stdin=subprocess.PIPE,
                        stdout=out,
                        text=True,
                    )
                assert proc.stdin is not None
                proc.stdin.write(spec_json(spec))
                proc.stdin.close()
                running[spec.index] = (proc, spec)
            if stopping:
                pending.clear()
            time.sleep(0.2)
            for index, (proc, spec) in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[index]
                result = _result(proc, spec)
                results.append(result)
                if result.get("failure"):
                    stopping = True
                    for other, _ in running.values():
                        other.send_signal(signal.SIGTERM)
                else:
                    _say(
                        f"cell {index} done: {len(spec.meters)} meters in {result['wall_s']} s "
                        f"wall ({len(results)} of {len(p.cells)} cells)"
                    )
    except KeyboardInterrupt:
        for proc, _ in running.values():
            proc.send_signal(signal.SIGTERM)
        for proc, _ in running.values():
            proc.wait()
        raise
    finally:
        signal.signal(signal.SIGTERM, old)
    return sorted(results, key=lambda r: int(r.get("cell", 0)))


def _on_term(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _result(proc: subprocess.Popen[str], spec: Any) -> dict[str, Any]:
    try:
        text = (Path(spec.workdir) / "result.json").read_text()
        result: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        result = {"failure": f"cell {spec.index}: exited with code {proc.returncode}, no result"}
    result.setdefault("cell", spec.index)
    if proc.returncode and not result.get("failure"):
        result["failure"] = f"cell {spec.index}: exited with code {proc.returncode}"
    return result


def _print(s: dict[str, Any]) -> None:
    print(f"\nfleet summary ({s['meters']} meters, {s['cells']} cells)")
    for key, value in s.items():
        if isinstance(value, (dict, list)):
            continue
        print(f"  {key.replace('_', ' '):<32} {value}")
    for group in ("collector", "host"):
        print(group)
        for key, value in s[group].items():
            shown = value
            if isinstance(value, dict):
                shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in value.items())
            print(f"  {key.replace('_', ' '):<32} {shown}")
