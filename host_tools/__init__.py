# host_tools: the CPython side of nbkit, one package per room (emulator, collector, vboard, rig,
# device, energy, meterbus, hil, bench); cli.py is the `nbkit` command table over them.
"""nbkit host tools: the `nbkit` command line (CPython side of the toolkit)."""

from pathlib import Path

__version__ = "0.1.0"

#: Repository root: firmware/, boards/ and tests/ sit beside host_tools/.
REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware"
BOARDS_DIR = REPO_ROOT / "boards"
