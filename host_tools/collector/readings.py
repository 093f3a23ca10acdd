"""`nbkit readings`: list what the collector stored (table, CSV or JSON)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from host_tools.collector.db import Store
from host_tools.errors import CommandError

COLUMNS = ("device", "epoch", "seq", "time", "name", "value", "unit")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, type=Path, help="the collector's SQLite file")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--device", type=int, help="only this device id")
    parser.add_argument("--json", action="store_true", help="the same as --format json")


def run(args: argparse.Namespace) -> int:
    if not args.db.is_file():
        raise CommandError(f"{args.db}: no such database (run `nbkit collect --db ...` first)")
    store = Store(args.db, readonly=True)
    try:
        rows = store.rows(args.device)
    finally:
        store.close()
    for row in rows:
        row["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row["t"]))
    if args.format == "json" or args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(f"{'device':>10} {'seq':>8}  {'time':<20} {'reading':<16} {'value':>12} unit")
        for r in rows:
            print(
                f"{r['device']:>10} {r['seq']:>8}  {r['time']:<20} {r['name']:<16} "
                f"{r['value']:>12} {r['unit']}"
            )
        print(f"{len(rows)} readings")
    return 0
