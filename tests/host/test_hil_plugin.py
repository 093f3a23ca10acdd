"""The HIL pytest plugin is installed for every pytest run and skips what a target lacks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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


ARTIFACT_SUITE = """
def test_fails_and_shows_its_logs(hil_artifacts):
    raise AssertionError("deliberate")
"""


@pytest.fixture
def tty() -> Iterator[str]:
    """A real serial-like port (a pty) nobody answers on."""
    master, slave = os.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(slave)
        os.close(master)


def _pytest(tmp_path: Path, *args: str, suite: str = SUITE) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_suite.py").write_text(suite)
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


def test_a_real_board_skips_virtual_only_and_collector_tests_before_touching_it(tmp_path, tty):
    proc = _pytest(tmp_path, "--port", tty, "--board", "esp32_bc28")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 2 skipped" in proc.stdout, proc.stdout
    assert "needs the virtual board" in proc.stdout
    assert "needs the collector of the virtual rig" in proc.stdout


def test_a_port_that_is_not_there_is_one_usage_error_before_any_test(tmp_path):
    proc = _pytest(tmp_path, "--port", str(tmp_path / "no-such-tty"), "--board", "esp32_bc28")
    out = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert out.count("no such port") == 1, out
    assert "leave --port out to run the suite on the virtual board" in out
    assert "Traceback" not in out and "passed" not in out, out


def test_a_port_that_is_a_plain_file_is_refused_too(tmp_path):
    plain = tmp_path / "ttyUSB0.txt"
    plain.write_text("")
    proc = _pytest(tmp_path, "--port", str(plain), "--board", "esp32_bc28")
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
    assert "not a serial port" in proc.stderr


def test_the_log_paths_a_failing_test_prints_exist(tmp_path, tty):
    basetemp = tmp_path / "base"
    proc = _pytest(tmp_path, "--port", tty, "--basetemp", str(basetemp), suite=ARTIFACT_SUITE)
    assert "1 failed" in proc.stdout, proc.stdout + proc.stderr
    printed = re.findall(r"^(\w+): (/\S+)$", proc.stdout, re.M)
    assert [name for name, _ in printed] == ["console"], proc.stdout  # a real board: no AT spy
    for _, path in printed:
        assert Path(path).is_file(), path
