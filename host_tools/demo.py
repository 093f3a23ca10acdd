"""`nbkit demo` / `make demo`: run the firmware in the MicroPython unix port, end to end."""

from __future__ import annotations

import argparse
import subprocess

from host_tools import FIRMWARE_DIR
from host_tools.errors import CommandError
from host_tools.mpy import micropython_binary


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--heap", default="128K", help="MicroPython heap size (default 128K)")


def run(args: argparse.Namespace) -> int:
    cmd = [micropython_binary(), "-X", f"heapsize={args.heap}", "main.py"]
    proc = subprocess.run(cmd, cwd=FIRMWARE_DIR, check=False)
    if proc.returncode != 0:
        raise CommandError(f"firmware exited with code {proc.returncode}")
    return 0
