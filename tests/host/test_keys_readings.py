"""`nbkit keys new` (the key flow) and `nbkit readings` (table, CSV, JSON)."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest
from nbkit.proto import codes
from nbkit.store import config

from host_tools import cli
from host_tools.collector import keyfile
from host_tools.collector.db import Store


def test_keys_new_registers_the_key_and_writes_the_device_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys, cfg_path = tmp_path / "keys.json", tmp_path / "dev5.json"
    argv = [
        "keys",
        "new",
        "--device",
        "5",
        "--keys",
        str(keys),
        "--config",
        str(cfg_path),
        "--server",
        "10.1.2.3:5683",
        "--bytes",
        "32",
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    key = keyfile.load(keys)[5]
    assert len(key) == 32
    assert key.hex() not in out and keyfile.fingerprint(key) in out, "fingerprint, never the key"
    for path in (keys, cfg_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    cfg = config.load(str(cfg_path))
    assert (cfg["device_id"], config.key_bytes(cfg)) == (5, key)
    assert (cfg["server_host"], cfg["server_port"]) == ("10.1.2.3", 5683)


def test_keys_new_refuses_to_overwrite_without_force_and_show_prints_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys.json"
    assert cli.main(["keys", "new", "--device", "1", "--keys", str(keys)]) == 0
    old = keyfile.load(keys)[1]
    assert cli.main(["keys", "new", "--device", "1", "--keys", str(keys)]) == 1
    assert "already has a key" in capsys.readouterr().err
    argv = ["keys", "new", "--device", "1", "--keys", str(keys), "--force", "--show", "--json"]
    assert cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    new = keyfile.load(keys)[1]
    assert new != old and result["key"] == new.hex()
    assert cli.main(["keys", "new", "--device", "2", "--keys", str(keys)]) == 0
    assert sorted(keyfile.load(keys)) == [1, 2], "other devices' keys are kept"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "c.db"
    store = Store(path)
    store.store(1042, [(1, 1764000000, codes.WATER_L, 1000), (2, 1764000900, codes.LEAK, 1)])
    store.store(7, [(9, 1764000000, codes.BATTERY_MV, 3012)])
    store.close()
    return path


def test_readings_table(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["readings", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["7", "9", "2025-11-24T16:00:00Z", "battery", "3012", "mV"]
    assert lines[-1] == "3 readings"


def test_readings_csv_and_device_filter(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["readings", "--db", str(db), "--format", "csv", "--device", "1042"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["seq"], r["name"], r["value"]) for r in rows] == [
        ("1", "water", "1000"),
        ("2", "leak", "1"),
    ]


def test_readings_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["readings", "--db", str(db), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["device"], r["seq"], r["unit"]) for r in rows] == [
        (7, 9, "mV"),
        (1042, 1, "L"),
        (1042, 2, ""),
    ]


def test_readings_without_a_database_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["readings", "--db", str(tmp_path / "none.db")]) == 1
    assert "no such database" in capsys.readouterr().err
