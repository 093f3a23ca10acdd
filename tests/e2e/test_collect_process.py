"""`nbkit collect` as its own process: real UDP, ack to the sender, clean stop on SIGTERM."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from nbkit.proto import codes, frame

from host_tools.collector import keyfile

pytestmark = pytest.mark.e2e
KEY = bytes(range(32))


def test_collect_process_acks_prints_and_summarises_on_sigterm(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keyfile.save(keys, {1042: KEY})
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "host_tools",
            "collect",
            "--listen",
            "127.0.0.1:0",
            "--db",
            str(tmp_path / "c.db"),
            "--keys",
            str(keys),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", banner)
        assert match, banner
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(5)
        data, _ = frame.encode_data(1042, KEY, [(0, 1764000000, codes.WATER_L, 42)])
        sock.sendto(data, ("127.0.0.1", int(match.group(1))))
        assert frame.decode_ack(sock.recv(64), KEY, 1042) == (0, 0)
        sock.sendto(b"\x11junk", ("127.0.0.1", int(match.group(1))))
        sock.sendto(data, ("127.0.0.1", int(match.group(1))))
        assert frame.decode_ack(sock.recv(64), KEY, 1042) == (0, 0), "duplicate re-acked"
        sock.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("uplink device=1042 epoch=0 seq=0..0 n=1 bytes=19 water[L]=42")
    assert lines[-1] == (
        "collector summary: accepted=1, duplicate=1, records_stored=1, truncated=1"
    ), lines[-1]
    assert "rejected truncated from 127.0.0.1" in err
