"""The virtual board's watchdog (issue 15, item 4): `unix_board.WDT(timeout=ms)` is
machine.WDT's contract on the unix port. The vboard host resets the board (reset cause
WDT_RESET) when no feed comes within the timeout in the board's virtual time; a fed board runs
on; a board parked at the REPL is brought back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.vboard import VBoardProcess

pytestmark = pytest.mark.e2e

# A 2 s watchdog (a feed reaches the host once per RTC second at most): the fed board sleeps well
# past it in device time, in no wall time (nothing holds the master back); parked at its REPL the
# board's time runs at wall speed (SimClock.park), as a board's at a prompt, so the bite that
# brings it back comes a wall second or so later.
MAIN = """
from nbkit.hal import unix_board as b
cause = b.reset_cause()
print("CAUSE", cause)
if cause == b.WDT_RESET:
    print("BACK AFTER THE WATCHDOG")
else:
    w = b.watchdog(2000)
    clock = b.clock()
    for _ in range(20):  # 20 x 0.5 device s, fed: well past the timeout in all
        w.feed()
        clock.sleep_ms(500)
    print("FED AND RUNNING")
    raise KeyboardInterrupt  # what a stray Ctrl-C does on a development build: the REPL
"""


def test_an_unfed_board_is_reset_by_the_host_and_a_fed_one_runs_on(tmp_path: Path) -> None:
    main = tmp_path / "main.py"
    main.write_text(MAIN)
    with VBoardProcess(tmp_path / "flash.img", "--main", str(main)) as vb:
        vb.expect(rb"CAUSE 1", timeout=15)
        vb.expect(rb"FED AND RUNNING", timeout=15)
        vb.expect(rb">>> ", timeout=10)  # parked at the REPL, the watchdog still armed
        parked = vb.virtual_now()
        vb.expect(rb"CAUSE 3\r\nBACK AFTER THE WATCHDOG", timeout=15)
        assert 0.0 < vb.virtual_now() - parked <= 2.0  # bitten within the timeout of parking
        status = vb.status()
        assert status["last_boot"]["cause"] == "watchdog", status
        assert status["boots"] == 2, status
