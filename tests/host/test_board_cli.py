"""`nbkit board` drives a running virtual board over its real UDP control channel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host_tools.cli import main
from tests.support.vboard import VBoardProcess

pytestmark = pytest.mark.e2e


def test_board_pulses_magnet_smoke_power_and_status(tmp_path: Path, capsys) -> None:
    idle = tmp_path / "idle.py"
    idle.write_text("# nothing\n")
    with VBoardProcess(tmp_path / "f.img", "--main", str(idle)) as vb:
        port = ["board", "--port", str(vb.port)]
        assert main([*port, "pulse", "pulse_a", "3", "--period-ms", "0"]) == 0
        assert main([*port, "magnet", "on"]) == 0
        assert main([*port, "smoke", "alarm"]) == 0
        vb.run_until(vb.virtual_now() + 0.001)  # the pulses' edges land 0.3 ms after the command
        capsys.readouterr()
        assert main([*port, "status", "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["pins"]["pulse_a"]["falling"] == 3
        assert doc["pins"]["tamper"]["value"] == 0
        assert doc["pins"]["smoke_adc"]["value"] == 42000
        capsys.readouterr()
        assert main([*port, "--json", "magnet", "off"]) == 0
        assert json.loads(capsys.readouterr().out) == {"command": "set tamper 1", "reply": "ok"}
        assert main([*port, "power", "cut"]) == 0
        assert vb.status()["state"] == "off"
        assert main([*port, "power", "restore"]) == 0
        assert vb.status()["state"] == "running"
        assert main([*port, "smoke", "thick"]) == 1
        assert "alarm, clear or a value" in capsys.readouterr().err
        assert main([*port, "set", "no_such_pin", "1"]) == 1
        assert "unknown pin" in capsys.readouterr().err


def test_board_without_a_port_says_how_to_give_one(monkeypatch, capsys) -> None:
    monkeypatch.delenv("NBKIT_VBOARD_CONTROL", raising=False)
    assert main(["board", "status"]) == 1
    assert "give --port PORT" in capsys.readouterr().err
