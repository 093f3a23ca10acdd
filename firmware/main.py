# nbkit firmware entry point: the board runs this after boot.
import os
import sys

# The hardware: the virtual board on the unix port, machine peripherals on a real board.
if sys.platform == "linux":
    from nbkit.hal import unix_board as board
else:
    from nbkit.hal import machine_board as board  # type: ignore[no-redef]

from nbkit.app import lockdown  # noqa: E402

# A production build locks the console before anything else runs (no REPL, Ctrl-C does nothing,
# errors reset the board); a development build keeps the REPL and says so (nbkit.app.lockdown).
lockdown.lock_early(board)

# Finish a deploy that was committed but cut before it completed (see host_tools/device/deploy.py):
# while .deploy/journal.json exists, the applier renames the staged files into place.
try:
    os.stat(".deploy/journal.json")
except OSError:
    pass
else:
    exec(open(".deploy/apply.py").read())

from nbkit.app import device  # noqa: E402

lockdown.run(board, device.run)
