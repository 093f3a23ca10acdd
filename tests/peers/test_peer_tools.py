"""rshell and ampy, as MicroPython developers run them, work against the virtual board unchanged.

mpremote has its own scenarios (test_mpremote.py), pyboard.py too (test_pyboard.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.peers.conftest import BIN
from tests.support.vboard import VBoardProcess

pytestmark = pytest.mark.e2e


def run(*argv: str, cwd: Path | None = None, timeout: float = 30) -> str:
    tries = 0
    while True:
        tries += 1
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=timeout, cwd=cwd
        )
        # rshell waits a fixed 2 s for each transfer ack, and its pyboard sends Ctrl-A once: a
        # host too busy to schedule the board in time, or a board still booting from the last
        # command's reset (its banner in stdout), gets one more try (a real failure fails twice)
        retry = ("error in transfer", "could not enter raw repl")
        if tries == 2 or done.returncode == 0 or not any(r in done.stderr for r in retry):
            break
    assert done.returncode == 0, f"{argv} (try {tries}): {done.stdout}{done.stderr}"
    return done.stdout


def test_ampy_puts_gets_lists_and_removes_files(board: VBoardProcess, tmp_path: Path) -> None:
    ampy = [str(BIN / "ampy"), "--port", board.console]
    src = tmp_path / "hello.py"
    src.write_text("print('hello from ampy')\nprint('second line')\n")
    run(*ampy, "put", str(src), "hello.py")
    assert "/hello.py" in run(*ampy, "ls").split()
    got = tmp_path / "got.py"
    run(*ampy, "get", "hello.py", str(got))
    assert got.read_text() == src.read_text()
    assert run(*ampy, "run", str(src)) == "hello from ampy\nsecond line\n"
    run(*ampy, "rm", "hello.py")
    assert "/hello.py" not in run(*ampy, "ls").split()


def test_rshell_lists_copies_and_runs_a_repl_line(board: VBoardProcess, tmp_path: Path) -> None:
    rshell = [str(BIN / "rshell"), "--port", board.console, "--quiet", "--nocolor"]
    src = tmp_path / "data.txt"
    src.write_text("line one\nline two\n")
    run(*rshell, "cp", str(src), "/pyboard/data.txt")
    assert "data.txt" in run(*rshell, "ls", "/pyboard")
    back = tmp_path / "back.txt"
    run(*rshell, "cp", "/pyboard/data.txt", str(back))
    assert back.read_text() == src.read_text()
    out = run(*rshell, "repl", "~", "print(6 * 7)", "~")
    assert "42" in out.split()
    run(*rshell, "rm", "/pyboard/data.txt")
