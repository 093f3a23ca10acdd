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


def _micropython(code: str, *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [micropython_binary(), "-c", code, *args],
        env=micropython_env(),
        cwd=str(REPO),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,  # type: ignore[arg-type]
    )


def test_an_inherited_descriptor_reads_what_is_there_and_notices_the_hang_up() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    proc = _micropython(FD_SCRIPT, str(master), pass_fds=[master])
    os.close(master)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert os.read(slave, 16) == b"ping\r"
        os.write(slave, bytes(range(100)) * 3)
        assert proc.stdout.readline().split() == ["got", "300", "True", "True"]
        os.close(slave)
        proc.stdin.write("\n")
        proc.stdin.flush()
        # no bytes, one hang-up counted, and the wait slept instead of spinning
        assert proc.stdout.readline().split() == ["hangup", "False", "b''", "1", "True"]
        assert proc.wait(10) == 0, proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("baud", [4800, 19200, 38400, 57600, 115200])
def test_a_path_is_opened_raw_at_the_board_speed(baud: int) -> None:
    master, slave = os.openpty()
    code = (
        "import sys\nfrom nbkit.hal.tty import TtyTransport\n"
        "t = TtyTransport(sys.argv[1], baud=int(sys.argv[2]))\nprint('open')\n"
        "sys.stdin.readline()\nt.close()\n"
    )
    proc = _micropython(code, os.ttyname(slave), str(baud))
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "open"
        attrs = termios.tcgetattr(slave)
        assert attrs[4] == attrs[5] == getattr(termios, f"B{baud}"), attrs
        assert not attrs[3] & termios.ECHO and not attrs[3] & termios.ICANON, attrs
        assert attrs[6][termios.VMIN] == 0 and attrs[6][termios.VTIME] == 0
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
        os.close(slave)


def test_an_unknown_speed_is_refused_with_the_known_ones() -> None:
    master, slave = os.openpty()
    code = (
        "import sys\nfrom nbkit.hal.tty import TtyTransport\n"
        "try:\n TtyTransport(sys.argv[1], baud=12345)\n"
        "except ValueError as e:\n print('refused', e)\n"
    )
    proc = _micropython(code, os.ttyname(slave))
    out, _ = proc.communicate(timeout=10)
    os.close(master)
    os.close(slave)
    assert (
        out.strip() == "refused baud 12345: not one of [4800, 9600, 19200, 38400, 57600, 115200]"
    )


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
    proc = _micropython(SIDE_SCRIPT, os.ttyname(slave), str(port))
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline().split() == [
            "side",
            "False",
            "[b'pin",
            "a",
            "1",
            "0",
            "1']",
            "True",
        ]
        os.write(master, b"OK\r\n")
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "tty True b'OK\\r\\n'"
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
        os.close(slave)
