"""The HIL pytest plugin is installed for every pytest run and skips what a target lacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SUITE = """
import pytest

@pytest.mark.virtual_only
def test_power_cut(hil_target):
    raise AssertionError("must not run on a real board")

@pytest.mark.needs_collector
def test_uplink(hil_target):
    raise AssertionError("must not run without the rig's collector")

def test_plain():
    pass
"""


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_suite.py").write_text(SUITE)
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args]
    return subprocess.run(
        [*cmd, str(tmp_path / "test_suite.py"), "--rootdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )


def test_the_options_are_there_through_the_entry_point(tmp_path):
    proc = _pytest(tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr
    for option in ("--board", "--port", "--flash", "--deploy", "--pin-file", "--auth-key-file"):
        assert option in proc.stdout, option
    assert "hardware-in-the-loop tests (tests/hil)" in proc.stdout


def test_a_real_board_skips_virtual_only_and_collector_tests_before_touching_it(tmp_path):
    proc = _pytest(tmp_path, "--port", str(tmp_path / "no-such-tty"), "--board", "esp32_bc28")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 2 skipped" in proc.stdout, proc.stdout
    assert "needs the virtual board" in proc.stdout
    assert "needs the collector of the virtual rig" in proc.stdout
