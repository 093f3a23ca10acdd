"""The tools MicroPython developers already use work against the virtual board unchanged."""

from __future__ import annotations

import subprocess
import sys
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
        # rshell waits a fixed 2 s for each transfer ack: a host too busy to schedule the board
        # in time gets one more try (a real failure fails twice)
        if tries == 2 or done.returncode == 0 or "error in transfer" not in done.stderr:
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


SUITE = Path(__file__).parent / "mpremote"

# Upstream tests whose output differs for reasons no console can change; each entry is the
# whole diff (`<` ours, `>` expected) the test may show. See tests/peers/README.md.
KNOWN_DIFFS = {
    # mpremote 1.29 soft-resets on connect unless `resume`: the script's `fs` object is gone
    # before its second command, on a real board as here
    "test_errno.sh": None,
    # `disconnect` then auto-connects to the first USB serial port: a pty is none
    "test_resume.sh": {"< mpremote: no device found", "> 5"},
    # this MicroPython build's repr() escapes non-ASCII; mpremote's own message order
    "test_unicode.sh": {
        "< Local directory ${TMP} is mounted at /remote",
        "> Local directory ${TMP} is mounted at /remote",
        "< '\\u65e5\\u672c\\u8a9e'",
        "> '日本語'",
    },
}


SCRIPTS = sorted(p.name for p in SUITE.glob("test_*.sh"))


@pytest.fixture(scope="module")
def suite(board: VBoardProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the upstream scripts (they write .out files) and MPREMOTE pointed at the board."""
    tmp = tmp_path_factory.mktemp("mpremote")
    subprocess.run(["cp", "-r", str(SUITE), str(tmp / "suite")], check=True)
    wrapper = tmp / "mpremote-vboard"
    wrapper.write_text(f'#!/bin/sh\nexec "{BIN / "mpremote"}" connect {board.console} "$@"\n')
    wrapper.chmod(0o755)
    return tmp


@pytest.mark.parametrize("script", SCRIPTS)
def test_mpremote_upstream_script(suite: Path, script: str) -> None:
    done = subprocess.run(
        ["bash", "./run-mpremote-tests.sh", f"./{script}"],
        cwd=suite / "suite",
        env={"MPREMOTE": str(suite / "mpremote-vboard"), "PATH": f"{BIN}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    head, _, rest = done.stdout.partition("\n")
    verdict = head.partition(": ")[2]
    diff = {line for line in rest.splitlines() if line[:2] in ("< ", "> ")}
    if script not in KNOWN_DIFFS:
        assert verdict == "OK", done.stdout + done.stderr
    elif KNOWN_DIFFS[script] is not None:
        assert verdict == "FAIL" and diff <= KNOWN_DIFFS[script], done.stdout
    else:
        assert verdict in ("OK", "FAIL"), done.stdout + done.stderr


def test_the_vendored_suite_is_the_documented_one() -> None:
    assert SCRIPTS == [
        "test_errno.sh",
        "test_eval_exec_run.sh",
        "test_filesystem.sh",
        "test_mip_local_install.sh",
        "test_recursive_cp.sh",
        "test_resume.sh",
        "test_unicode.sh",
    ]


def test_frozen_app_is_importable_but_not_listed_and_rm_r_root_empties_the_flash(
    board: VBoardProcess, tmp_path: Path
) -> None:
    mpremote = [str(BIN / "mpremote"), "connect", board.console]
    src = tmp_path / "x.py"
    src.write_text("X = 1\n")
    run(*mpremote, "cp", str(src), ":x.py", "+", "mkdir", ":d", "+", "cp", str(src), ":d/y.py")
    listing = run(*mpremote, "exec", "import os; print(sorted(os.listdir('/')))")
    assert listing.strip() == "['d', 'x.py']"  # no .frozen, as on a board built with a manifest
    done = subprocess.run(
        [*mpremote, "rm", "-r", ":/"], capture_output=True, text=True, timeout=30, check=False
    )
    assert "cannot remove :/ Operation not permitted" in done.stderr  # what a real board says
    assert run(*mpremote, "ls", ":/").strip() == "ls :/"
    out = run(
        *mpremote,
        "exec",
        "import os, nbkit.proto.frame as f; open('w.txt', 'w').write('ok'); "
        "print(os.listdir('/'), f.__file__)",
    )
    assert out.strip() == "['w.txt'] /.frozen/nbkit/proto/frame.py"


PYBOARD = Path(__file__).parent / "pyboard" / "pyboard.py"


def test_pyboard_py_copies_lists_and_executes(board: VBoardProcess, tmp_path: Path) -> None:
    pyboard = [sys.executable, str(PYBOARD), "--device", board.console]
    src = tmp_path / "data.txt"
    src.write_text("line one\nline two\n")
    run(*pyboard, "-f", "cp", str(src), ":pb.txt")
    assert "pb.txt" in run(*pyboard, "-f", "ls", ":")
    back = tmp_path / "back.txt"
    run(*pyboard, "-f", "cp", ":pb.txt", str(back), cwd=tmp_path)  # fs_get wants CRLF
    assert back.read_text() == src.read_text()
    assert run(*pyboard, "-c", "print(6 * 7)\nprint('b')").replace("\r\n", "\n") == "42\nb\n"
    run(*pyboard, "-f", "rm", ":pb.txt")
