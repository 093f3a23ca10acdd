"""The virtual board's fork server: each boot is the unix port started afresh in a forked
child, on the board's pty with the board's environment, and its end (exit code or the signal
of a power cut) reaches the host as a wait status."""

from __future__ import annotations

import os
import pty
import select
import signal
import time

import pytest

from host_tools.vboard.zygote import Zygote


@pytest.fixture
def zygote():
    z = Zygote.start(dict(os.environ))
    if z is None:
        pytest.skip("the unix port is not the micropython_run extension here")
    yield z
    z.close()


def _boot(z: Zygote, code: str, **env: str) -> tuple[int, int]:
    fd, tty = pty.openpty()
    pid = z.spawn(["-c", code], {**os.environ, **env}, tty)
    os.close(tty)
    return pid, fd


def _console(fd: int, wall_s: float = 10.0, until: bytes | None = None) -> bytes:
    """What the boot printed (to its end, or until ``until`` shows: the pty stays open then,
    as closing a session's terminal hangs it up)."""
    out = b""
    end = time.monotonic() + wall_s
    while time.monotonic() < end and select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child has closed the pty
            break
        if not chunk:
            break
        out += chunk
        if until is not None and until in out:
            return out
    os.close(fd)
    return out


def test_each_boot_is_a_fresh_micropython_with_its_own_environment(zygote):
    code = "import gc, os, sys; gc.collect(); print(sys.implementation.name, os.getenv('BOOT'))"
    first, fd1 = _boot(zygote, code, BOOT="one")
    out1 = _console(fd1)
    second, fd2 = _boot(zygote, code, BOOT="two")
    out2 = _console(fd2)
    assert b"micropython one" in out1 and b"micropython two" in out2
    assert first != second
    for pid in (first, second):
        status = zygote.status(pid, block=True)
        assert status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_a_boot_killed_by_the_host_ends_with_the_signal(zygote):
    pid, fd = _boot(zygote, "import time\nprint('up')\ntime.sleep(60)")
    assert b"up" in _console(fd, 10.0, until=b"up")
    assert zygote.status(pid, block=False) is None  # still running
    os.kill(pid, signal.SIGKILL)  # the power cut
    status = zygote.status(pid, block=True)
    os.close(fd)
    assert status is not None and os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == signal.SIGKILL


def test_an_exit_code_of_the_unix_port_is_kept(zygote):
    pid, fd = _boot(zygote, "import sys; sys.exit(3)")
    _console(fd)
    status = zygote.status(pid, block=True)
    assert status is not None and os.WEXITSTATUS(status) == 3
