"""One virtual board for the peer-tool suites (mpremote, rshell, ampy talk to it as to a board)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.vboard import VBoardProcess

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VBoardProcess]:
    """A virtual board with an empty main.py (as the peer suites expect of a board)."""
    tmp = tmp_path_factory.mktemp("peer")
    idle = tmp / "idle.py"
    idle.write_text("# a board with nothing to run\n")
    with VBoardProcess(tmp / "flash.img", "--main", str(idle)) as vb:
        # the peer tools drive it as a real board, in wall time: the test holds device time
        # only while it acts itself; the board parks paced at its REPL (wall speed)
        vb.let_time_run()
        yield vb


class Mpremote:
    """`mpremote connect <console> ...` as a real subprocess, one run per call."""

    def __init__(self, console: str) -> None:
        self.argv = [str(BIN / "mpremote"), "connect", console]

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run mpremote with args; return the finished process whatever its exit code."""
        return subprocess.run(
            [*self.argv, *args], capture_output=True, text=True, timeout=30, cwd=cwd, check=False
        )

    def __call__(self, *args: str, cwd: Path | None = None) -> str:
        """Run mpremote with args, require exit 0, return its stdout."""
        done = self.run(*args, cwd=cwd)
        assert done.returncode == 0, f"mpremote {args}: {done.stdout}{done.stderr}"
        return done.stdout

    def fails(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run mpremote with args and require exit 1 (what mpremote does on any error)."""
        done = self.run(*args)
        assert done.returncode == 1, f"mpremote {args} should fail: {done.stdout}{done.stderr}"
        return done


# empties the board's flash (the root is a mount point: its entries go, the root stays)
WIPE = """\
import os
def _wipe(d):
    for name, kind, *_ in os.ilistdir(d):
        p = d.rstrip('/') + '/' + name
        if kind == 0x4000:
            _wipe(p)
            os.rmdir(p)
        else:
            os.remove(p)
_wipe('/')
"""


@pytest.fixture
def mpremote(board: VBoardProcess) -> Mpremote:
    """mpremote pointed at the module's board, whose flash starts empty for each test."""
    tool = Mpremote(board.console)
    tool("exec", WIPE)
    return tool
