"""`nbkit broker`: a real MQTT 3.1.1 broker (amqtt) on loopback for tests and the MQTT demo.

The broker is amqtt, pinned in requirements-dev.txt: pure Python, so `make setup` installs it on
a fresh machine with nothing but python3 (no system package, no root), and it starts in about
0.1 s, which keeps broker-restart tests fast. The first stdout line is ``HOST:PORT`` once the
broker accepts connections; it serves until SIGINT/SIGTERM (exit 0).

From Python (tests, `nbkit demo`)::

    with running_broker() as broker:        # subprocess on an ephemeral port
        broker.port
        broker.restart()                    # SIGKILL (a crash) and start again, same port
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from host_tools.errors import CommandError


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (port 0: a free port chosen now)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CommandError(f"--listen must be HOST:PORT, got '{text}'")
    return host or "127.0.0.1", int(port)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (kept for restarts of the same broker)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def broker_config(host: str, port: int) -> dict[str, object]:
    """amqtt configuration: one TCP listener, anonymous clients, no $SYS topics."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="where to accept MQTT clients (default 127.0.0.1:0 = a free port, printed first)",
    )
    parser.add_argument("--verbose", action="store_true", help="log the broker's events")


async def _serve(host: str, port: int, stop: asyncio.Event) -> None:
    from amqtt.broker import Broker  # type: ignore[import-untyped]

    broker = Broker(broker_config(host, port))
    try:
        await broker.start()
    except Exception as exc:  # amqtt wraps bind errors in its own exception types
        raise CommandError(f"cannot start the MQTT broker on {host}:{port}: {exc}") from None
    print(f"{host}:{port}", flush=True)
    await stop.wait()
    try:
        await asyncio.wait_for(broker.shutdown(), 2.0)
    except (TimeoutError, asyncio.TimeoutError):
        pass  # clients still connected: the process exit closes their sockets


def run(args: argparse.Namespace) -> int:
    host, port = parse_listen(args.listen)
    port = port or free_port(host)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await _serve(host, port, stop)

    asyncio.run(main())
    return 0


@dataclass
class BrokerProcess:
    """A broker subprocess on a fixed loopback port."""

    host: str
    port: int
    proc: subprocess.Popen[str] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        argv = [sys.executable, "-m", "host_tools.collector.broker", "--listen", self.address]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.05)
            if ready:
                line = self.proc.stdout.readline().strip()
                if line == self.address:
                    return
                break
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"the MQTT broker did not start on {self.address}")

    def kill(self) -> None:
        """Crash the broker (SIGKILL): every client connection breaks at once."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None

    def restart(self) -> None:
        """Kill and start again on the same port (no session state survives)."""
        self.kill()
        self.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


@contextmanager
def running_broker(host: str = "127.0.0.1", port: int = 0) -> Iterator[BrokerProcess]:
    """Start `nbkit broker` as a subprocess (ephemeral port by default); stop it on exit."""
    broker = BrokerProcess(host, port or free_port(host))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


if __name__ == "__main__":  # `python -m host_tools.collector.broker`
    _parser = argparse.ArgumentParser(prog="nbkit broker")
    configure(_parser)
    try:
        sys.exit(run(_parser.parse_args()))
    except CommandError as _exc:
        print(f"nbkit: {_exc}", file=sys.stderr)
        sys.exit(1)
