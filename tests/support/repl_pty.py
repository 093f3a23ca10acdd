"""A MicroPython unix-port REPL reachable through a pty path, as a board's USB serial port is.

MicroPython's stdin/stdout sit on one pty; a bridge thread joins it to a second pty whose slave
path the test (or mpremote) opens. Its working directory plays the board's filesystem.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import threading
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from host_tools.vboard.mpy import micropython_binary


def _bridge(a: int, b: int, stop: threading.Event) -> None:
    while not stop.is_set():
        ready, _, _ = select.select([a, b], [], [], 0.05)
        for fd in ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            os.write(b if fd == a else a, data)


@contextmanager
def micropython_on_pty(cwd: Path, heap: str = "256K") -> Iterator[str]:
    """Start a MicroPython REPL in cwd; yield the pty path a host tool connects to."""
    mp_master, mp_slave = pty.openpty()
    host_master, host_slave = pty.openpty()
    for fd in (mp_slave, host_master, host_slave):
        tty.setraw(fd)
    proc = subprocess.Popen(
        [micropython_binary(), "-X", f"heapsize={heap}"],
        cwd=cwd,
        stdin=mp_slave,
        stdout=mp_slave,
        stderr=mp_slave,
    )
    stop = threading.Event()
    thread = threading.Thread(target=_bridge, args=(mp_master, host_master, stop), daemon=True)
    thread.start()
    try:
        yield os.ttyname(host_slave)
    finally:
        stop.set()
        proc.kill()
        proc.wait()
        thread.join(1)
        for fd in (mp_master, mp_slave, host_master, host_slave):
            os.close(fd)
