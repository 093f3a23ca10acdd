"""A board that keeps printing and ignores Ctrl-C ends a deploy's connect in a clear error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from host_tools.device.deploy import Device
from host_tools.errors import CommandError
from tests.support.vboard import VBoardProcess

pytestmark = pytest.mark.e2e

# time.sleep is the unix port's own, in wall time: a board busy printing never waits on the time
# master, so device time stands still while it ticks at wall pace (what the host tool meets).
CHATTY = """\
import time
from nbkit.hal import unix_board
unix_board.kbd_intr(-1)  # Ctrl-C is a plain byte: nothing breaks into the REPL
while True:
    print("tick")
    time.sleep(0.02)
"""


def test_a_board_printing_forever_is_an_error_after_the_timeout_not_a_hang(tmp_path: Path):
    main = tmp_path / "chatty.py"
    main.write_text(CHATTY)
    with VBoardProcess(tmp_path / "flash.img", "--main", str(main)) as vb:
        vb.expect(b"tick")
        start = time.monotonic()
        with pytest.raises(CommandError, match="cannot reach a MicroPython REPL"):
            Device(vb.console, timeout_s=2.0)
        # the deploy's own timeout is wall time, as against a real board: mpremote alone would
        # wait for as long as ticks arrive
        assert time.monotonic() - start < 8
