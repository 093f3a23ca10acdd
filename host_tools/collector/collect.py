"""`nbkit collect`: the collector (verify, dedup, SQLite, ack). See host_tools.collector.

Uplinks come by UDP (``--listen``), TCP (``--tcp``, 2-byte length-prefixed frames), MQTT
(``--mqtt``: subscribes ``nbkit/+/up`` at that broker) and/or CoAP (``--coap``: the operator
platform stand-in); every way feeds the same verification, dedup and acks
(host_tools.collector.intake).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from host_tools.collector import keyfile
from host_tools.collector.db import BUSY_TIMEOUT_S, RETRIES, Store, check_writable
from host_tools.collector.server import Collector, summary_line
from host_tools.collector.supervise import Supervised
from host_tools.errors import CommandError
from host_tools.files.rotating import DEFAULT_MAX_BYTES, open_log, size_arg


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
    parser.add_argument(
        "--busy-timeout",
        type=float,
        default=BUSY_TIMEOUT_S,
        metavar="S",
        help=f"seconds to wait for a database lock another program holds, per attempt; a "
        f"frame is tried {RETRIES + 1} times, then left unacked for the device to resend "
        f"(default {BUSY_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--log",
        type=Path,
        metavar="FILE",
        help="write the collector's log lines (refusals, restarts) to FILE instead of stderr, "
        "rotated at --log-max-bytes (FILE.1 .. FILE.3 kept)",
    )
    parser.add_argument(
        "--clock",
        metavar="sim:HOST:PORT:NAME",
        help="join a rig's time master (nbkit demo does this): the received times are device "
        "time; the UDP intake only (the other intakes keep wall time)",
    )
    parser.add_argument(
        "--log-max-bytes",
        type=size_arg,
        default=DEFAULT_MAX_BYTES,
        metavar="N",
        help=f"size cap of one log file before rotation (default {DEFAULT_MAX_BYTES}; k/M ok)",
    )


def _join_master(collector: Any, spec: str) -> None:
    """``--clock sim:HOST:PORT:NAME``: the collector's time is the rig's time master's."""
    from host_tools.simclock.client import SimClient, parse_spec

    addr, name = parse_spec(spec)
    collector.sim = SimClient(addr, name, lambda: collector.sim_counts)
    collector.store.clock = collector.sim.now


def _intakes(args: argparse.Namespace) -> list[tuple[str, Any, tuple[str, int]]]:
    from host_tools.collector import intake

    found: list[tuple[str, Any, tuple[str, int]]] = []
    if args.tcp:
        found.append(("tcp", intake.serve_tcp, parse_hostport(args.tcp, "--tcp")))
    if args.mqtt:
        found.append(("mqtt", intake.serve_mqtt, parse_hostport(args.mqtt, "--mqtt")))
    if args.coap:
        from host_tools.collector.coap import serve_coap

        found.append(("coap", serve_coap, parse_hostport(args.coap, "--coap")))
    if args.listen:  # last: its "listening on" line tells scripts that every intake serves
        found.append(("udp", intake.serve_udp, parse_hostport(args.listen)))
    if not found:
        raise CommandError("give at least one of --listen, --tcp, --mqtt, --coap")
    return found


def start_intakes(
    intakes: list[tuple[str, Any, tuple[str, int]]],
    shared: Any,
    stop: threading.Event,
    log: Callable[[str], None],
) -> list[Supervised]:
    """Start every intake supervised (restarted on failure); CommandError if one cannot start."""
    started = []
    for name, target, addr in intakes:
        if name in ("tcp", "mqtt") and shared.collector.sim is not None and _has_udp(intakes):
            _sim_intake(name, shared, addr)  # served by the UDP intake's participant loop
            continue
        intake = Supervised(name, target, shared=shared, addr=addr, stop=stop, log=log)
        try:
            bound = intake.start()
        except Exception as exc:
            stop.set()
            raise CommandError(
                f"cannot start the {name} intake on {addr[0]}:{addr[1]}: {exc} - "
                "check the address (a port in use?) and, for --mqtt, that the broker runs"
            ) from exc
        started.append(intake)
        label = "listening on" if name == "udp" else f"{name} intake on"
        print(
            f"collector: {label} {bound[0]}:{bound[1]} ({len(shared.collector.keys)} device keys)",
            file=sys.stderr,
            flush=True,
        )
    return started


def _has_udp(intakes: list[tuple[str, Any, tuple[str, int]]]) -> bool:
    return any(name == "udp" for name, _, _ in intakes)


def _sim_intake(name: str, shared: Any, addr: tuple[str, int]) -> None:
    """Under a time master the TCP and MQTT intakes join the UDP intake's loop (one
    participant), their traffic counted (host_tools/collector/tcp.py, mqtt_sim.py)."""
    collector = shared.collector
    intake: Any
    try:
        if name == "tcp":
            from host_tools.collector.tcp import TcpIntake

            intake = TcpIntake(shared, *addr, now=collector.sim.now, counts=collector.sim_counts)
            bound = intake.address()
        else:
            from host_tools.collector.mqtt_sim import MqttSimIntake

            devices = sorted(collector.keys)
            intake = MqttSimIntake(shared, *addr, counts=collector.sim_counts, devices=devices)
            bound = addr
    except OSError as exc:
        raise CommandError(
            f"cannot start the {name} intake on {addr[0]}:{addr[1]}: {exc} - check the address "
            "(a port in use?) and, for --mqtt, that the broker runs"
        ) from exc
    shared.sim_extras.append(intake)
    print(
        f"collector: {name} intake on {bound[0]}:{bound[1]} ({len(collector.keys)} device keys)",
        file=sys.stderr,
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    from host_tools.collector.intake import SharedCollector

    intakes = _intakes(args)
    keys = keyfile.load(args.keys)
    if not 0 < args.busy_timeout <= 60:
        raise CommandError(f"--busy-timeout {args.busy_timeout:g}: give 0 < S <= 60 seconds")
    check_writable(args.db)
    log = open_log(args.log, args.log_max_bytes) if args.log else None
    store = Store(args.db, busy_timeout_s=args.busy_timeout)
    collector = Collector(store, keys, as_json=args.json)
    if log is not None:
        collector.log = log.line
    if args.clock:
        _join_master(collector, args.clock)
    shared = SharedCollector(collector)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    threads: list[Supervised] = []
    try:
        threads = start_intakes(intakes, shared, stop, collector.log)
        while not stop.wait(0.2):
            pass
    finally:
        stop.set()
        for thread in threads:
            thread.join(5.0)
        store.close()
        if log is not None:
            log.close()
    counts = collector.summary()
    if args.json:
        print(json.dumps({"event": "summary", "counts": counts}), flush=True)
    else:
        print(summary_line(counts), flush=True)
    return 0
