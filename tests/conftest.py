"""Test suite wiring: tests/firmware/ runs under MicroPython, everything else under CPython."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.micropython_runner import FIRMWARE_TESTS, FirmwareModule


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "micropython: runs in the MicroPython unix port")


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector):  # type: ignore[no-untyped-def]
    """Firmware test modules are handed to MicroPython instead of being imported by CPython."""
    if module_path.parent == FIRMWARE_TESTS:
        return FirmwareModule.from_parent(parent, path=module_path)
    return None


def pytest_report_header(config: pytest.Config) -> str:
    from tests.micropython_runner import micropython_binary, run_micropython

    proc = run_micropython(["-c", "import sys; print(sys.implementation.name, sys.version)"])
    return f"firmware runtime: {proc.stdout.strip()} ({micropython_binary()})"


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    """Say how many tests ran inside MicroPython (not CPython)."""
    ran = [
        r
        for key in ("passed", "failed")
        for r in terminalreporter.stats.get(key, [])
        if r.when == "call" and "micropython" in r.keywords
    ]
    passed = sum(1 for r in ran if r.passed)
    terminalreporter.write_line(
        f"firmware tests executed by MicroPython: {len(ran)} ({passed} passed)"
    )
