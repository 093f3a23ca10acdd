"""`nbkit bench` / `make bench`: print the project's speed, memory and energy figures.

Each suite is a module with ``run(report)``; it measures in this run and reports figures with
units. Nothing here asserts on wall-clock time: the figures are printed for people and CI logs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

#: suite name -> module (each has run(report: Report) -> None)
SUITES: dict[str, str] = {
    "firmware-size": "host_tools.bench.size",
    "power": "host_tools.bench.power",
    "payload": "host_tools.bench.payload",
    "at-driver": "host_tools.bench.at",
    "emulator": "host_tools.bench.emulator",
    "sim-day": "host_tools.bench.simday",
    "fleet": "host_tools.bench.fleet",
    "heap": "host_tools.bench.heap",
}


class Report:
    """Collects figures as `suite / name = value unit` and prints them as they come."""

    def __init__(self, quiet: bool = False) -> None:
        self.rows: list[dict[str, Any]] = []
        self.quiet = quiet
        self.suite = ""

    def figure(self, name: str, value: float | int | str, unit: str = "", note: str = "") -> None:
        """Record one figure and print it."""
        self.rows.append(
            {"suite": self.suite, "name": name, "value": value, "unit": unit, "note": note}
        )
        if not self.quiet:
            shown = f"{value:,.3f}" if isinstance(value, float) else f"{value}"
            tail = f"  ({note})" if note else ""
            print(f"  {name:<52} {shown:>14} {unit}{tail}")

    def heading(self, suite: str, title: str) -> None:
        self.suite = suite
        if not self.quiet:
            print(f"\n== {title}")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--suite",
        action="append",
        choices=sorted(SUITES),
        help="run only this suite (repeatable); default: all",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")


def run(args: argparse.Namespace) -> int:
    report = Report(quiet=args.json)
    for name in args.suite or list(SUITES):
        report.suite = name
        importlib.import_module(SUITES[name]).run(report)
    if args.json:
        json.dump(report.rows, sys.stdout, indent=2)
        print()
    return 0
