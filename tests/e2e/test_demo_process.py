"""`nbkit demo` as a person runs it: uplinks are printed as they arrive; Ctrl-C stops it all."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.e2e


def _running_under(path) -> list[str]:
    out = subprocess.run(
        ["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True
    )
    return [ln for ln in out.stdout.splitlines() if str(path) in ln and "ps -eo" not in ln]


def test_ctrl_c_stops_every_process_the_demo_started(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "host_tools",
        "demo",
        "--workdir",
        str(tmp_path),
        "--hours",
        "48",
    ]
    demo = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 60
        line = ""
        while "uplink accepted" not in line and time.monotonic() < deadline:
            line = demo.stdout.readline()
        assert "uplink accepted: device 1042" in line, line
        assert len(_running_under(tmp_path)) >= 3  # collector, emulator, virtual board
        demo.send_signal(signal.SIGINT)
        assert demo.wait(30) == 130
    finally:
        if demo.poll() is None:
            demo.kill()
    gone = time.monotonic() + 5  # the processes' exit, not device time: polled
    while _running_under(tmp_path) and time.monotonic() < gone:
        time.sleep(0.05)
    assert _running_under(tmp_path) == [], "processes left running after Ctrl-C"
    assert "stopping every process" in demo.stderr.read()  # type: ignore[union-attr]
    # the run's files that hold the device key are the owner's only (issue 16 #7)
    for secret in ("flash.img", "device.json", "keys.json"):
        assert (tmp_path / secret).stat().st_mode & 0o777 == 0o600, secret
