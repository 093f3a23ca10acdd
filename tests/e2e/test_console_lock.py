"""Attack 1 (issue 16, finding 1) on the virtual board: with a cable on the console, Ctrl-C,
Ctrl-A (raw REPL), Ctrl-D and Ctrl-E must not give a Python REPL on a production build; the
service console answers them as bad input and keeps serving. A development build keeps the REPL
and says so at boot (the same attack then works: the test would catch a lock that is not on).
The only way in on production: `repl confirm` in an unlocked service session.

The attacker is a person at the console (paced_console): the service console answers and then
waits on in device time for the next line, and time runs at wall speed while someone types, as
for a technician, so the next line lands in the same window (tests/support/vboard.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.vboard import VBoardProcess

BREAK_IN = b"\x03\x03\x01\x04\x05\x03\r\n"  # what mpremote / pyboard.py / a person would try
PIN = "482913"
SEED = {
    "device_id": 7,
    "key": "00112233445566778899aabbccddeeff",
    "server_host": "127.0.0.1",
    "server_port": 9,
    "service_pin": PIN,
}


def _seed(tmp_path: Path) -> Path:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED))
    return path


def _settle(vb: VBoardProcess, device_s: float = 1.0) -> bytes:
    """What the console shows over the next device second (anything a break-in set off)."""
    vb.run_until(vb.virtual_now() + device_s)
    return vb.buf


def test_production_console_gives_no_repl_to_ctrl_c_ctrl_a_ctrl_d(tmp_path: Path) -> None:
    flash = tmp_path / "flash.img"
    with VBoardProcess(flash, "--build-profile", "production", paced_console=True) as vb:
        vb.expect(rb"service console open", timeout=15)  # the attacker types into the window
        vb.write(BREAK_IN + b"ping locked\r\n")
        vb.expect(rb"pong: locked\r\nOK\r\n", timeout=15)
        vb.write(BREAK_IN * 3 + b"\x01\r\n" + b"ping still\r\n")
        vb.expect(rb"pong: still\r\nOK\r\n", timeout=10)
        seen = _settle(vb)
        assert b">>>" not in seen and b"raw REPL" not in seen, seen
        assert b"KeyboardInterrupt" not in seen and b"Traceback" not in seen, seen
        assert b"DEVELOPMENT" not in seen
        assert b"resetting" not in seen, "no reset either: the console just refused"


def test_development_build_keeps_the_repl_and_says_so(tmp_path: Path) -> None:
    flash = tmp_path / "flash.img"
    with VBoardProcess(flash, "--build-profile", "development", paced_console=True) as vb:
        vb.expect(rb"DEVELOPMENT build: the Python REPL is open", timeout=15)
        vb.write(b"\x03\r\n")
        vb.expect(rb">>> ", timeout=10)


def test_production_repl_only_after_an_unlocked_repl_confirm(tmp_path: Path) -> None:
    flash = tmp_path / "flash.img"
    seed = str(_seed(tmp_path))
    with VBoardProcess(
        flash, "--build-profile", "production", "--seed-config", seed, paced_console=True
    ) as vb:
        vb.write(b"ping a\r\nrepl confirm\r\n")
        vb.expect(rb"ERR 401 locked", timeout=15)
        vb.write(f"unlock {PIN}\r\nrepl confirm\r\n".encode())
        vb.expect(rb"OK\r\n.*OK\r\n", timeout=15)
        vb.expect(rb"REPL opened by an unlocked service session", timeout=10)
        vb.write(b"print(6 * 7)\r\n")
        vb.expect(rb"42", timeout=10)
