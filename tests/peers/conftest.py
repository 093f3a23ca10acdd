"""One virtual board for the peer-tool suites (mpremote, rshell, ampy talk to it as to a board)."""

from __future__ import annotations

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
        yield vb
