"""nbkit.hal.tty.TtyTransport in the MicroPython unix port, against ptys made here.

A device path is opened raw at the asked speed (also the speeds MicroPython's termios does not
name); an inherited descriptor (a pty master handed down, as the console tests do) is used as
it is; `serve_also` serves a side channel (the virtual board's pin events) during a wait.
"""

from __future__ import annotations

import os
import socket
import subprocess
import termios
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.micropython_runner import REPO, micropython_binary, micropython_env

pytestmark = pytest.mark.e2e

FD_SCRIPT = """
import sys, time
from nbkit.hal.tty import TtyTransport
t = TtyTransport(int(sys.argv[1]))
t.write(b"ping\\r")
got = b""
sizes = []
while len(got) < 300 and t.wait(2000):
    chunk = t.read(128)
    sizes.append(len(chunk))
    got += chunk
print("got", len(got), max(sizes) <= 128, got == bytes(range(100)) * 3)
sys.stdin.readline()  # the host has closed its end
t.wait(100)
t.read(16)
start = time.ticks_ms()
print("hangup", t.wait(200), t.read(16), t.hangups, time.ticks_diff(time.ticks_ms(), start) >= 190)
"""


@contextmanager
def micropython(code: str, *args: str, fds: tuple[int, ...] = (), **kw: Any) -> Iterator[Mp]:
    """Run `code` in MicroPython; on exit kill it and close `fds` (the pty ends)."""
    proc = subprocess.Popen(
        [micropython_binary(), "-c", code, *args],
        env=micropython_env(),
        cwd=str(REPO),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )
    try:
        yield Mp(proc)
    finally:
        proc.kill()
        proc.wait()
        for fd in fds:
            os.close(fd)


class Mp:
    """The MicroPython process: `line()` reads its next output line, `go()` lets it go on."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc, self.stdin, self.stdout = proc, proc.stdin, proc.stdout

    def line(self) -> str:
        return self.stdout.readline().strip()

    def go(self) -> None:
        self.stdin.write("\n")
        self.stdin.flush()

    def exit_code(self) -> int:
        return self.proc.wait(10)


def test_an_inherited_descriptor_reads_what_is_there_and_notices_the_hang_up() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    with micropython(FD_SCRIPT, str(master), pass_fds=[master]) as mp:
        os.close(master)
        assert os.read(slave, 16) == b"ping\r"
        os.write(slave, bytes(range(100)) * 3)
        assert mp.line().split() == ["got", "300", "True", "True"]
        os.close(slave)
        mp.go()
        # no bytes, one hang-up counted, and the wait slept instead of spinning
        assert mp.line().split() == ["hangup", "False", "b''", "1", "True"]
        assert mp.exit_code() == 0, mp.stdout.read()


@pytest.mark.parametrize("baud", [4800, 19200, 38400, 57600, 115200])
def test_a_path_is_opened_raw_at_the_board_speed(baud: int) -> None:
    master, slave = os.openpty()
    code = (
        "import sys\nfrom nbkit.hal.tty import TtyTransport\n"
        "t = TtyTransport(sys.argv[1], baud=int(sys.argv[2]))\nprint('open')\n"
        "sys.stdin.readline()\nt.close()\n"
    )
    with micropython(code, os.ttyname(slave), str(baud), fds=(master, slave)) as mp:
        assert mp.line() == "open"
        attrs = termios.tcgetattr(slave)
        assert attrs[4] == attrs[5] == getattr(termios, f"B{baud}"), attrs
        assert not attrs[3] & termios.ECHO and not attrs[3] & termios.ICANON, attrs
        assert attrs[6][termios.VMIN] == 0 and attrs[6][termios.VTIME] == 0
        mp.go()
        assert mp.exit_code() == 0


def test_an_unknown_speed_is_refused_with_the_known_ones() -> None:
    master, slave = os.openpty()
    code = (
        "import sys\nfrom nbkit.hal.tty import TtyTransport\n"
        "try:\n TtyTransport(sys.argv[1], baud=12345)\n"
        "except ValueError as e:\n print('refused', e)\n"
    )
    with micropython(code, os.ttyname(slave), fds=(master, slave)) as mp:
        known = "[4800, 9600, 19200, 38400, 57600, 115200]"
        assert mp.line() == f"refused baud 12345: not one of {known}"


SIDE_SCRIPT = """
import socket, sys, time
from nbkit.hal.tty import TtyTransport
t = TtyTransport(sys.argv[1])
addr = socket.getaddrinfo("127.0.0.1", int(sys.argv[2]))[0][-1]
side = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
side.bind(addr)
served = []
t.serve_also(side, lambda: served.append(side.recv(16)))
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"pin a 1 0 1", addr)
start = time.ticks_ms()
ready = t.wait(200)
print("side", ready, served, time.ticks_diff(time.ticks_ms(), start) >= 190)
sys.stdin.readline()  # the host has written to the tty
print("tty", t.wait(2000), t.read(16))
"""


def test_a_side_channel_is_served_during_a_wait_without_ending_it() -> None:
    master, slave = os.openpty()
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with micropython(SIDE_SCRIPT, os.ttyname(slave), str(port), fds=(master, slave)) as mp:
        assert mp.line() == "side False [b'pin a 1 0 1'] True"  # served, and waited it out
        os.write(master, b"OK\r\n")
        mp.go()
        assert mp.line() == "tty True b'OK\\r\\n'"
        assert mp.exit_code() == 0
