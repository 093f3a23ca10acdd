"""pyboard.py, the raw-REPL library most host tools grew from, drives the virtual board.

The module is the fork rshell 0.0.36 (pinned in requirements-dev.txt) ships as `rshell.pyboard`:
its Pyboard class keeps MicroPython's raw-REPL protocol (Ctrl-A, Ctrl-D soft reset, `OK`, two
`\\x04`-ended replies) without the fixed sleeps ampy's fork adds. It has no file commands, so the
copies below are what every pyboard-based tool does: Python sent through `exec_`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from rshell.pyboard import Pyboard, PyboardError

from tests.support.vboard import VBoardProcess

pytestmark = pytest.mark.e2e

CHUNK = 64  # bytes per write() sent to the board: well inside its raw-REPL input buffer


@pytest.fixture(scope="module")
def booted(board: VBoardProcess) -> VBoardProcess:
    """The module's board once it has booted to its REPL prompt.

    Pyboard sends its Ctrl-C/Ctrl-A the instant it opens the port and gives up after one try;
    a user (or a tool like mpremote, which retries) starts it on a board that has booted.
    """
    board.expect(rb">>> ", timeout=10)
    return board


@pytest.fixture
def pyb(booted: VBoardProcess) -> Iterator[Pyboard]:
    """The board in raw REPL (entered with a soft reset, as Pyboard does); left again after."""
    link = Pyboard(booted.console)
    link.enter_raw_repl()
    yield link
    link.exec_("import os\nfor f in os.listdir('/'):\n    os.remove(f)")
    link.exit_raw_repl()
    link.read_until(1, b">>> ", timeout=10)  # at the friendly prompt before the next test types
    link.close()


def put(pyb: Pyboard, data: bytes, remote: str) -> None:
    """Copy bytes to a file on the board (pyboard's cp to `:`)."""
    pyb.exec_(f"f = open({remote!r}, 'wb')")
    for i in range(0, len(data), CHUNK):
        pyb.exec_(f"f.write({data[i : i + CHUNK]!r})")
    pyb.exec_("f.close()")


def get(pyb: Pyboard, remote: str) -> bytes:
    """A file's bytes from the board (pyboard's cp from `:`), hex over the console."""
    reply = pyb.exec_(f"import binascii\nprint(binascii.hexlify(open({remote!r}, 'rb').read()))")
    return bytes.fromhex(reply.decode().strip()[2:-1])  # b'...' as MicroPython prints it


def ls(pyb: Pyboard, remote: str = "/") -> list[str]:
    """Names in a directory on the board."""
    return sorted(ast.literal_eval(pyb.eval(f"__import__('os').listdir({remote!r})").decode()))


def test_exec_prints_with_crlf_and_eval_returns_the_value(pyb: Pyboard) -> None:
    assert pyb.exec_("print(6 * 7)\nprint('b')") == b"42\r\nb\r\n"  # a board's console: CRLF
    assert pyb.eval("1 + 2") == b"3"
    assert pyb.eval("'Hello 世界'") == "Hello 世界".encode()


def test_state_lasts_between_commands_and_enter_raw_repl_soft_resets(pyb: Pyboard) -> None:
    pyb.exec_("a = 'kept'")
    assert pyb.eval("a") == b"kept"
    pyb.enter_raw_repl()
    assert pyb.eval("'a' in globals()") == b"False"


def test_an_exception_comes_back_on_the_error_channel(pyb: Pyboard) -> None:
    with pytest.raises(PyboardError) as caught:
        pyb.exec_("open('missing.txt')")
    kind, out, err = caught.value.args
    assert (kind, out) == ("exception", b"")
    assert err.endswith(b"OSError: [Errno 2] ENOENT\r\n"), err


def test_cp_to_and_from_the_board_ls_and_rm(pyb: Pyboard) -> None:
    # every byte value, the raw REPL's control bytes (Ctrl-A..D) and CR/LF included
    data = bytes(range(256)) * 3
    put(pyb, data, "pb.bin")
    put(pyb, "línea uno\nline two\n".encode(), "pb.txt")
    assert ls(pyb) == ["pb.bin", "pb.txt"]
    assert get(pyb, "pb.bin") == data
    assert get(pyb, "pb.txt").decode() == "línea uno\nline two\n"
    pyb.exec_("import os\nos.remove('pb.bin')")
    assert ls(pyb) == ["pb.txt"]


def test_execfile_runs_a_local_script(pyb: Pyboard, tmp_path: Path) -> None:
    script = tmp_path / "count.py"
    script.write_text("for i in range(3):\n    print('run', i)\n")
    assert pyb.execfile(str(script)) == b"run 0\r\nrun 1\r\nrun 2\r\n"
