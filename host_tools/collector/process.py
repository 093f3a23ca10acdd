"""Run ``nbkit collect`` (and, for MQTT, the broker) as subprocesses from tools and tests.

    with running_collector(workdir, {42: key}, "tcp", sim="sim:127.0.0.1:PORT:collector") as col:
        ...  # devices send to col.server; col.seqs(42) is what was stored

The collector listens on UDP and on the transport's own intake (``--tcp``/``--coap`` on a free
loopback port, ``--mqtt`` through a broker started here), so ``server`` is where a device sends
for that transport. With ``sim`` it is a participant of that time master (as in the rig: its
intakes are counted, so device time waits for its answers); the broker stays outside the
master (the emulator counts what it asked of it until the answer comes).
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools.collector import keyfile
from host_tools.collector.broker import BrokerProcess, free_port
from host_tools.errors import CommandError

#: transports a device can report over, and the collector intake option that serves each
INTAKES = {"udp": None, "tcp": "--tcp", "coap": "--coap", "mqtt": "--mqtt"}


@dataclass
class CollectorProcess:
    """A running ``nbkit collect`` and where devices send to it."""

    proc: subprocess.Popen[str]
    server: tuple[str, int]
    db: Path
    stderr_path: Path
    broker: BrokerProcess | None = None

    def seqs(self, device: int) -> list[int]:
        """Sequence numbers of the device's stored readings, in order (duplicates kept)."""
        with sqlite3.connect(self.db) as db:
            rows = db.execute("SELECT seq FROM readings WHERE device = ? ORDER BY seq", (device,))
            return [int(seq) for (seq,) in rows]

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


def _free(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_collector(
    workdir: Path, keys: dict[int, bytes], transport: str = "udp", sim: str | None = None
) -> Iterator[CollectorProcess]:
    """Start the collector (and the broker for ``mqtt``) in ``workdir``; stop both on exit."""
    if transport not in INTAKES:
        raise CommandError(f"unknown transport {transport!r}: one of {', '.join(INTAKES)}")
    keyfile.save(workdir / "keys.json", keys)
    listen = ("127.0.0.1", _free(socket.SOCK_DGRAM))
    server, extra, broker = listen, [], None
    if transport == "mqtt":
        broker = BrokerProcess("127.0.0.1", free_port())
        broker.start()
        server = ("127.0.0.1", broker.port)
    elif transport in ("tcp", "coap"):
        kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
        server = ("127.0.0.1", _free(kind))
    option = INTAKES[transport]
    if option is not None:
        extra = [option, f"{server[0]}:{server[1]}"]
    argv = [sys.executable, "-m", "host_tools", "collect", "--listen", "%s:%d" % listen, *extra]
    argv += ["--db", str(workdir / "collector.db"), "--keys", str(workdir / "keys.json")]
    if sim is not None:  # the same master, as participant "collector"
        argv += ["--clock", "sim:%s:%s:collector" % tuple(sim.split(":")[1:3])]
    err_path = workdir / "collector.stderr"
    handle = None
    try:
        with open(err_path, "w", encoding="utf-8") as err:
            proc: subprocess.Popen[Any] = subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, text=True
            )
        handle = CollectorProcess(proc, server, workdir / "collector.db", err_path, broker)
        _wait_listening(handle)
        yield handle
    finally:
        if handle is not None:
            handle.stop()
        if broker is not None:
            broker.stop()


def _wait_listening(col: CollectorProcess, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while "listening on" not in col.stderr():
        if col.proc.poll() is not None or time.monotonic() > deadline:
            raise CommandError(f"the collector did not start: {col.stderr()[-1000:]}")
        time.sleep(0.02)
