"""Attacks 2 and 3 of issue 16 tried on a production virtual board (attack 1, the console
break-in: test_console_lock.py; attack 4, replayed acks and a device whose counters went back:
test_epoch_rig.py, tests/firmware/test_epoch.py).

2. Secrets at rest: what the flash holds after the first power-on. The service PIN is only a
   salted PBKDF2 hash and the device key is in its own file, not in config.json.
3. Guess a PIN and cut the power at the first flash write after the guess (the write, or the
   current it draws, shows up before the answer): the write pattern must not tell a right PIN
   from a wrong one, so the cut gives no oracle; and a lockout survives a power cut.

The attacker is a person at the console (paced_console: time runs at wall speed while one types,
so a line sent after an answer lands in the same service window)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from host_tools.device import flashimg
from tests.support.vboard import VBoardProcess

pytestmark = pytest.mark.e2e

PIN = "482913"
KEY = "00112233445566778899aabbccddeeff"
SEED = {
    "device_id": 7,
    "key": KEY,
    "server_host": "127.0.0.1",
    "server_port": 9,
    "service_pin": PIN,
}
BLOCK = 4096


def _board(tmp_path: Path) -> VBoardProcess:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED))
    flash = tmp_path / "flash.img"
    return VBoardProcess(
        flash, "--build-profile", "production", "--seed-config", str(seed), paced_console=True
    )


def _first_window(vb: VBoardProcess) -> None:
    vb.write(b"ping first\r\n")
    vb.expect(rb"pong: first\r\nOK\r\n", timeout=20)
    vb.write(b"exit\r\n")
    vb.expect(rb"service console closed", timeout=10)


def test_the_flash_holds_no_pin_and_config_json_no_key(tmp_path: Path) -> None:
    with _board(tmp_path) as vb:
        _first_window(vb)
    image = tmp_path / "flash.img"
    cfg = flashimg.read_file(image, "config.json", BLOCK).decode()
    assert PIN not in cfg and KEY not in cfg and '"key"' not in cfg, cfg
    assert json.loads(cfg)["service_pin"].startswith("pbkdf2-sha256$4096$"), cfg
    assert flashimg.read_file(image, "device.key", BLOCK).decode() == KEY
    for name in flashimg.list_files(image, BLOCK):
        if name != "device.key":
            assert PIN.encode() not in flashimg.read_file(image, name, BLOCK), name


def _guess_with_cut(vb: VBoardProcess, k: int, pin: str) -> str:
    """Power-cycle with a cut at flash write k of that boot, send `unlock pin` at once.
    -> "verdict" (an answer came before any cut), "cut" (cut before an answer)."""
    cuts = len(vb.status()["cuts"])
    vb.buf = b""
    assert vb.ctl(f"cut {k}") == "ok"
    vb.write(f"unlock {pin}\r\n".encode())  # typed while the board boots: the window reads it
    verdict = re.compile(rb"(OK|ERR \d+[^\r]*)\r\n")
    vb.wait_for(lambda: bool(verdict.search(vb.buf)) or len(vb.status()["cuts"]) > cuts)
    return "verdict" if verdict.search(vb.buf) else "cut"


def test_a_power_cut_after_a_guess_tells_a_right_pin_from_no_wrong_one(tmp_path: Path) -> None:
    seen: dict[int, tuple[str, str]] = {}
    with _board(tmp_path) as vb:
        _first_window(vb)  # the first boot moves the key and hashes the PIN
        for k in range(1, 12):
            wrong = _guess_with_cut(vb, k, "0000")
            right = _guess_with_cut(vb, k, PIN)
            seen[k] = (wrong, right)
            # the old oracle: a wrong PIN wrote (cut, no answer), a right one wrote nothing (OK)
            assert not (wrong == "cut" and right == "verdict"), (k, seen)
            if wrong == right == "verdict":
                break
    assert any(w == r == "cut" for w, r in seen.values()), (
        "some cut falls after the guess was read: both PINs write before any answer",
        seen,
    )


def test_a_lockout_survives_a_power_cycle(tmp_path: Path) -> None:
    with _board(tmp_path) as vb:
        _first_window(vb)
        assert vb.ctl("power cycle") == "ok"
        for _ in range(3):
            vb.write(b"unlock 0000\r\n")
            vb.expect(rb"ERR 403 wrong PIN", timeout=20)
        assert vb.ctl("power cycle") == "ok"
        vb.write(f"unlock {PIN}\r\n".encode())
        vb.expect(rb"ERR 429 locked out", timeout=20)
