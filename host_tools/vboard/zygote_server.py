"""The fork server of one virtual board: run as ``python -S zygote_server.py MPY_DIR FD``.

Every wake of a board is a new MicroPython process, as a deep sleep resets a real MCU. Started
from scratch that costs a CPython start, the unix port's extension loaded and the ROM mapped:
about 9 ms of CPU before the first line of firmware runs, a third of a sample wake. This
process pays that once: it imports ``micropython_run`` (from MPY_DIR), maps the board's ROM
(``NBKIT_ROM_IMAGE``) and its flash image (``NBKIT_FLASH_IMAGE``, :class:`_FlashMap`), sets
each boot's environment and folder in itself and then forks one child per boot, in which the
unix port starts afresh (``run_main``: a new heap, nothing of MicroPython ran in this process
before the fork). The child does as little as it can before that: every page of this process
it writes is copied first.

Protocol on the inherited Unix socket FD (SOCK_SEQPACKET), one message each:
    host -> server   JSON {"argv": [...], "env": {...}, "cwd": "..."} with the board's pty
                     (its console) as the one file descriptor passed along
    server -> host   ``ready`` once, then ``pid PID`` per request, ``exit PID STATUS`` per
                     child that ended (STATUS as os.waitpid gives it)
Only the standard library: ``-S`` leaves site-packages out, as the launcher does.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import mmap
import os
import select
import signal
import socket
import sys
import termios
from collections.abc import Callable
from typing import Any

_MAX_REQUEST = 1 << 20


def _spec(mapping: mmap.mmap) -> tuple[Any, str]:
    """``address:size`` of a mapping (NBKIT_ROM, NBKIT_FLASH), and the ctypes view that gives
    the address (it holds the buffer: drop it before the mapping is closed)."""
    view = ctypes.c_char.from_buffer(mapping)
    return view, f"{ctypes.addressof(view)}:{len(mapping)}"


def _map_rom() -> dict[str, str]:
    """The ROM image mapped outside any heap, as the launcher does (host_tools.vboard.mpy):
    NBKIT_ROM ("address:size") for the children, which inherit the mapping."""
    path = os.environ.get("NBKIT_ROM_IMAGE")
    if not path:
        return {}
    with open(path, "rb") as f:
        rom = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    view, spec = _spec(rom)
    _keep.extend((rom, view))
    return {"NBKIT_ROM": spec}


_keep: list[Any] = []  # the ROM mapping lives as long as this process


class _FlashMap:
    """The board's flash image (NBKIT_FLASH_IMAGE) mapped shared and writable in this process,
    inherited by every child: the boot code (nbkit.hal.flash.MappedBlockDevice) finds it by
    NBKIT_FLASH ("address:size") and littlefs reads and writes memory, not the file through a
    system call per access. A write is in the file at once (the page cache), so a killed child
    leaves what a power cut would. The mapping is made again when the file is another or
    another size; without one (no such variable, an empty or missing image) the boot code
    opens the file."""

    def __init__(self) -> None:
        self.key: tuple[Any, ...] | None = None
        self.mapping: mmap.mmap | None = None
        self.view: Any = None  # the ctypes view that gives the address (holds the buffer)
        self.spec = ""

    def update(self, path: str | None) -> str:
        """NBKIT_FLASH for a boot of the image at ``path`` ("" when there is no mapping)."""
        try:
            st = os.stat(path) if path else None
        except OSError:
            st = None
        key = None if st is None else (path, st.st_dev, st.st_ino, st.st_size)
        if key == self.key:
            return self.spec
        self._unmap()
        if key is not None and path is not None:
            try:
                with open(path, "r+b") as f:
                    self.mapping = mmap.mmap(f.fileno(), 0)
            except (OSError, ValueError):
                return ""  # the boot code opens the file and says what is wrong with it
            self.view, self.spec = _spec(self.mapping)
            self.key = key
        return self.spec

    def _unmap(self) -> None:
        self.view = None
        if self.mapping is not None:
            self.mapping.close()
        self.mapping, self.key, self.spec = None, None, ""


def _set_env(env: dict[str, str]) -> None:
    """This process's environment made ``env`` (the children inherit it): only what changed
    since the last boot is set, here, so a child starts the unix port at once."""
    for key in [k for k in os.environ if k not in env]:
        del os.environ[key]
    for key, value in env.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _child(
    tty: int, argv: list[str] | None, run_main: Callable[[list[str]], Any], *fds: int
) -> None:
    """In the forked child: the pty as its controlling terminal and stdio, then the unix port
    (the environment and folder are the server's, set before the fork; ``argv`` None: the
    folder could not be entered). Never returns."""
    code = 127
    try:
        if argv is None:
            return
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in fds:
            os.close(fd)
        os.setsid()
        fcntl.ioctl(tty, termios.TIOCSCTTY, 0)
        for std in (0, 1, 2):
            os.dup2(tty, std)
        if tty > 2:
            os.close(tty)
        code = run_main(["micropython", *argv]) or 0
    finally:
        os._exit(code if isinstance(code, int) else 1)


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(f"exit {pid} {status}".encode())


def main() -> None:
    mpy_dir, fd = sys.argv[1], int(sys.argv[2])
    sock = socket.socket(fileno=fd)
    sys.path.insert(0, mpy_dir)
    from micropython_run import run_main  # type: ignore[import-not-found]

    rom_env = _map_rom()
    flash = _FlashMap()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    sock.send(b"ready")
    while True:
        ready, _, _ = select.select([sock.fileno(), wake_r], [], [])
        if wake_r in ready:
            while True:
                try:
                    if not os.read(wake_r, 512):
                        break
                except BlockingIOError:
                    break
        if sock.fileno() in ready:
            msg, fds, _, _ = socket.recv_fds(sock, _MAX_REQUEST, 1)
            if not msg:
                return  # the board's host is gone
            req = json.loads(msg)
            env = {**req["env"], **rom_env}
            env["NBKIT_FLASH"] = flash.update(env.pop("NBKIT_FLASH_IMAGE", None))
            if not env["NBKIT_FLASH"]:
                del env["NBKIT_FLASH"]
            _set_env(env)
            try:
                if os.getcwd() != req["cwd"]:
                    os.chdir(req["cwd"])
                argv = req["argv"]
            except OSError:
                argv = None  # the child exits 127, as a boot that cannot start
            pid = os.fork()
            if pid == 0:
                _child(fds[0], argv, run_main, sock.fileno(), wake_r, wake_w)
            for passed in fds:
                os.close(passed)
            sock.send(f"pid {pid}".encode())
        _reap(sock)


if __name__ == "__main__":
    main()
