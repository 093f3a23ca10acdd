"""`nbkit collect`: the collector (verify, dedup, SQLite, ack). See host_tools.collector.

Uplinks come by UDP (``--listen``), TCP (``--tcp``, 2-byte length-prefixed frames), MQTT
(``--mqtt``: subscribes ``nbkit/+/up`` at that broker) and/or CoAP (``--coap``: the operator
platform stand-in); every way feeds the same verification, dedup and acks
(host_tools.collector.intake).
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from host_tools.collector import keyfile
from host_tools.collector.db import Store
from host_tools.collector.server import Collector, serve, summary_line
from host_tools.errors import CommandError


def parse_hostport(text: str, option: str = "--listen") -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CommandError(f"{option} must be HOST:PORT, got '{text}'")
    return host or "0.0.0.0", int(port)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="UDP address to receive uplinks on (port 0: any free port)",
    )
    parser.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="also accept TCP clients sending 2-byte big-endian length-prefixed frames",
    )
    parser.add_argument(
        "--mqtt",
        metavar="HOST:PORT",
        help="also take uplinks from this MQTT broker (nbkit/+/up, acks on nbkit/<id>/ack)",
    )
    parser.add_argument(
        "--coap",
        metavar="HOST:PORT",
        help="also serve as the CoAP IoT platform the modems' AT+NCDP points at",
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


def _intakes(args: argparse.Namespace) -> list[tuple[str, Any, tuple[str, int]]]:
    from host_tools.collector import intake

    found: list[tuple[str, Any, tuple[str, int]]] = []
    if args.listen:
        found.append(("udp", None, parse_hostport(args.listen)))
    if args.tcp:
        found.append(("tcp", intake.serve_tcp, parse_hostport(args.tcp, "--tcp")))
    if args.mqtt:
        found.append(("mqtt", intake.serve_mqtt, parse_hostport(args.mqtt, "--mqtt")))
    if args.coap:
        from host_tools.collector.coap import serve_coap

        found.append(("coap", serve_coap, parse_hostport(args.coap, "--coap")))
    if not found:
        raise CommandError("give at least one of --listen, --tcp, --mqtt, --coap")
    return found


def _start(
    name: str, target: Any, shared: Any, addr: tuple[str, int], stop: threading.Event
) -> threading.Thread:
    """Run one intake in a thread; wait until it serves or raise what stopped it."""
    outcome: queue.Queue[tuple[str, int] | BaseException] = queue.Queue()

    def main() -> None:
        try:
            target(shared, addr[0], addr[1], stop, outcome.put)
        except Exception as exc:
            outcome.put(exc)

    thread = threading.Thread(target=main, name=f"collect-{name}", daemon=True)
    thread.start()
    result = outcome.get(timeout=30)
    if isinstance(result, BaseException):
        raise CommandError(f"cannot start the {name} intake on {addr[0]}:{addr[1]}: {result}")
    print(f"collector: {name} intake on {result[0]}:{result[1]}", file=sys.stderr, flush=True)
    return thread


def run(args: argparse.Namespace) -> int:
    from host_tools.collector.intake import SharedCollector

    intakes = _intakes(args)
    keys = keyfile.load(args.keys)
    store = Store(args.db)
    collector = Collector(store, keys, as_json=args.json)
    shared = SharedCollector(collector)
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

    threads = []
    try:
        for name, target, addr in intakes:
            if target is not None:
                threads.append(_start(name, target, shared, addr, stop))
        udp = [addr for name, _, addr in intakes if name == "udp"]
        if udp:
            try:
                serve(collector, udp[0][0], udp[0][1], stop, ready, lock=shared.lock)
            except OSError as exc:
                raise CommandError(f"cannot listen on {udp[0][0]}:{udp[0][1]}: {exc}") from exc
        else:
            while not stop.wait(0.2):
                pass
    finally:
        stop.set()
        for thread in threads:
            thread.join(5.0)
        store.close()
    counts = collector.summary()
    if args.json:
        print(json.dumps({"event": "summary", "counts": counts}), flush=True)
    else:
        print(summary_line(counts), flush=True)
    return 0
