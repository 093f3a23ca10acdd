"""The firmware test runner: MicroPython executes the tests, and failures really fail."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.micropython_runner import FIRMWARE_TESTS, run_micropython


@pytest.fixture
def scratch_module():
    """Write a throwaway firmware test module into tests/firmware and remove it afterwards."""
    made: list[Path] = []

    def write(name: str, body: str) -> str:
        path = FIRMWARE_TESTS / f"{name}.py"
        path.write_text(textwrap.dedent(body))
        made.append(path)
        return name

    yield write
    for path in made:
        path.unlink()


def test_runner_reports_pass_from_micropython(scratch_module):
    mod = scratch_module(
        "_scratch_ok", "import sys\ndef test_a():\n    print(sys.implementation.name)\n"
    )
    proc = run_micropython(["tests/firmware/_run.py", mod, "test_a"])
    assert proc.returncode == 0
    assert proc.stdout.split() == ["micropython", "PASS"]


def test_failing_firmware_test_fails_with_micropython_traceback(scratch_module):
    mod = scratch_module("_scratch_fail", "def test_b():\n    x = 1\n    assert x == 2, x\n")
    proc = run_micropython(["tests/firmware/_run.py", mod, "test_b"])
    assert proc.returncode == 1
    assert "AssertionError: 1" in proc.stdout
    assert "line 3, in test_b" in proc.stdout
    assert "PASS" not in proc.stdout


def test_cpython_only_syntax_does_not_compile_in_micropython(scratch_module):
    mod = scratch_module(
        "_scratch_match",
        """\
        def test_c():
            match 3:
                case 3:
                    pass
        """,
    )
    proc = run_micropython(["tests/firmware/_run.py", mod, "test_c"])
    assert proc.returncode == 1
    assert "SyntaxError" in proc.stdout + proc.stderr


def test_heap_limit_is_enforced():
    proc = run_micropython(["-c", "bytearray(100 * 1024)"], heap="64K")
    assert proc.returncode == 1
    assert "MemoryError" in proc.stdout + proc.stderr
