"""`nbkit collect`: the UDP collector (verify, dedup, SQLite, ack). See host_tools.collector."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from host_tools.collector import keyfile
from host_tools.collector.db import Store
from host_tools.collector.server import Collector, serve, summary_line
from host_tools.errors import CommandError


def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CommandError(f"--listen must be HOST:PORT, got '{text}'")
    return host or "0.0.0.0", int(port)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen",
        required=True,
        metavar="HOST:PORT",
        help="UDP address to receive uplinks on (port 0: any free port)",
    )
    parser.add_argument("--db", required=True, type=Path, help="SQLite file for the readings")
    parser.add_argument(
        "--keys", required=True, type=Path, help="device key file written by `nbkit keys new`"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print each accepted uplink and the summary as JSON lines",
    )


def run(args: argparse.Namespace) -> int:
    host, port = parse_hostport(args.listen)
    keys = keyfile.load(args.keys)
    store = Store(args.db)
    collector = Collector(store, keys, as_json=args.json)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def ready(addr: tuple[str, int]) -> None:
        print(
            f"collector: listening on {addr[0]}:{addr[1]} ({len(keys)} device keys)",
            file=sys.stderr,
            flush=True,
        )

    try:
        serve(collector, host, port, stop, ready)
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc
    finally:
        store.close()
    counts = collector.summary()
    if args.json:
        print(json.dumps({"event": "summary", "counts": counts}), flush=True)
    else:
        print(summary_line(counts), flush=True)
    return 0
