"""Hand work from other threads (resolver, asyncio CoAP client) to the one reactor thread.

The emulator's reactor is single-threaded; a blocking host resolver call or an asyncio library
(aiocoap) runs elsewhere and posts its result back with :meth:`ThreadBridge.post`, which queues
the callable and wakes the reactor through a pipe. Callables run in the reactor thread, in
the order they were posted.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from host_tools.emulator.reactor import Reactor

#: callables waiting for the reactor; more than this is a bug upstream, not load
MAX_POSTED = 4096
#: host resolver calls running at once; more fail at once (the module's "DNS busy")
MAX_RESOLVING = 4


class ThreadBridge:
    """Thread-safe ``post(fn)`` into a :class:`Reactor`; one asyncio loop thread on demand."""

    def __init__(self, reactor: Reactor) -> None:
        self.reactor = reactor
        self._lock = threading.Lock()
        self._queue: deque[Callable[[], None]] = deque()
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        reactor.add_handler(self._r, selectors.EVENT_READ, self._drain)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self.dropped = 0
        self.resolving = 0
        self._closed = False

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the reactor thread soon (safe from any thread)."""
        with self._lock:
            if self._closed or len(self._queue) >= MAX_POSTED:
                self.dropped += 1
                return
            self._queue.append(fn)
        try:
            os.write(self._w, b"x")
        except OSError:  # pipe full: the reactor is already due to drain
            pass

    def _drain(self, mask: int) -> None:
        try:
            os.read(self._r, 4096)
        except BlockingIOError:
            pass
        while True:
            with self._lock:
                if not self._queue:
                    return
                fn = self._queue.popleft()
            try:
                fn()
            except Exception as exc:  # a callback bug must not stop the modem
                print(f"nbkit emulate: bridged callback failed: {exc!r}", file=sys.stderr)

    # -- helpers ------------------------------------------------------------------------------

    def in_thread(
        self, work: Callable[[], Any], done: Callable[[Any, BaseException | None], None]
    ) -> None:
        """Run blocking ``work()`` in a worker thread; ``done(result, error)`` in the reactor."""

        def runner() -> None:
            try:
                result, error = work(), None
            except Exception as exc:
                result, error = None, exc
            self.post(lambda: done(result, error))

        threading.Thread(target=runner, name="nbkit-emu-worker", daemon=True).start()

    def resolve(self, host: str, done: Callable[[list[str] | None], None]) -> None:
        """IPv4 addresses of ``host`` by the host resolver (``None`` when it cannot). Under a
        time master the lookup is in flight on the ``dnsq`` channel (Reactor.asked) until its
        result is back in the reactor: device time never moves while the host resolves (how
        fast it does cannot decide when the module's answer comes)."""

        if self.resolving >= MAX_RESOLVING:
            self.reactor.call_later(0.0, lambda: done(None))
            return
        self.resolving += 1
        self.reactor.asked("dnsq")

        def work() -> list[str]:
            infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
            return list(dict.fromkeys(str(info[4][0]) for info in infos))

        def finished(result: Any, error: BaseException | None) -> None:
            self.resolving -= 1
            self.reactor.answered("dnsq")
            done(None if error else result)

        self.in_thread(work, finished)

    def loop(self) -> asyncio.AbstractEventLoop:
        """The bridge's asyncio loop (started in its own thread on first use)."""
        if self._loop is None:
            loop = asyncio.new_event_loop()
            self._loop_thread = threading.Thread(
                target=loop.run_forever, name="nbkit-emu-asyncio", daemon=True
            )
            self._loop_thread.start()
            self._loop = loop
        return self._loop

    def run_async(
        self,
        coro: Coroutine[Any, Any, Any],
        done: Callable[[Any, BaseException | None], None],
    ) -> Future[Any]:
        """Run ``coro`` on the asyncio loop; ``done(result, error)`` in the reactor."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop())

        def finished(fut: Future[Any]) -> None:
            if fut.cancelled():
                return
            error = fut.exception()
            result = None if error else fut.result()
            self.post(lambda: done(result, error))

        future.add_done_callback(finished)
        return future

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._queue.clear()
        self.reactor.remove_handler(self._r)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._loop_thread is not None:
                self._loop_thread.join(2.0)
            if not self._loop.is_running():
                self._loop.close()
        os.close(self._r)
        os.close(self._w)
