"""Supervised intakes: each intake of the collector runs in a thread that restarts it on failure.

An intake is ``target(shared, host, port, stop, ready)`` (UDP, TCP, MQTT, CoAP). The first start
is reported to the caller: a failure before the intake serves (port taken, no broker) is the
caller's error, raised at once. After that, an intake that raises, or returns while ``stop`` is
not set, is logged (``collector: <name> intake failed: ...; restart N in X s``) and started
again on the same address (the port it got the first time, so a `port 0` intake keeps its
port), after a backoff that doubles from ``BACKOFF_MIN_S`` up to ``BACKOFF_MAX_S`` and returns
to the minimum once an intake has served for ``HEALTHY_S``. It never gives up: a collector
that stops taking uplinks loses nothing the devices keep, but serves nobody.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 5.0
HEALTHY_S = 30.0
START_TIMEOUT_S = 30.0

Intake = Callable[..., None]


class Supervised:
    """One intake under supervision; ``restarts`` counts the restarts after a failure."""

    def __init__(
        self,
        name: str,
        target: Intake,
        *,
        shared: Any,
        addr: tuple[str, int],
        stop: threading.Event,
        log: Callable[[str], None],
    ) -> None:
        self.name = name
        self.target = target
        self.shared = shared
        self.addr = addr
        self.stop = stop
        self.log = log
        self.restarts = 0
        self.bound: tuple[str, int] | None = None
        self.thread = threading.Thread(target=self._main, name=f"collect-{name}", daemon=True)
        self._first: queue.Queue[tuple[str, int] | BaseException] = queue.Queue()

    def start(self) -> tuple[str, int]:
        """Start the intake; the address it serves on, or raise what kept it from starting."""
        self.thread.start()
        result = self._first.get(timeout=START_TIMEOUT_S)
        if isinstance(result, BaseException):
            raise result
        return result

    def _ready(self, addr: tuple[str, int]) -> None:
        first = self.bound is None
        self.bound = (str(addr[0]), int(addr[1]))
        if first:
            self._first.put(self.bound)
        else:
            self.log(f"collector: {self.name} intake serving again on {addr[0]}:{addr[1]}")

    def _main(self) -> None:
        delay = BACKOFF_MIN_S
        while not self.stop.is_set():
            began = time.monotonic()
            addr = self.bound or self.addr
            try:
                self.target(self.shared, addr[0], addr[1], self.stop, self._ready)
                if self.stop.is_set():
                    return
                why = "stopped by itself"
                error: Exception = RuntimeError(why)
            except Exception as exc:  # noqa: BLE001 - any failure of an intake is restarted
                why = f"failed: {type(exc).__name__}: {exc}"
                error = exc
            if self.bound is None:  # never served: the caller reports it
                self._first.put(error)
                return
            if time.monotonic() - began > HEALTHY_S:
                delay = BACKOFF_MIN_S
            self.restarts += 1
            self.log(
                f"collector: {self.name} intake {why}; restart {self.restarts} in {delay:g} s"
            )
            if self.stop.wait(delay):
                return
            delay = min(delay * 2, BACKOFF_MAX_S)

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)
