"""Bench suite: compiled firmware size per board (bytes of .mpy / .py on the device)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from host_tools import boards, build


def run(report: Any) -> None:
    report.heading("firmware-size", "Firmware size per board (mpy-cross output)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in boards.board_names():
            built = build.build_board(name, Path(tmp))
            report.figure(f"{name}: {len(built)} modules", sum(m.size for m in built), "bytes")
