"""Device profiles: the config key that picks them, the board's meter-bus UART, vboard --pin."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nbkit import profiles
from nbkit.store import config

from host_tools.device import boards
from host_tools.errors import CommandError
from host_tools.vboard.command import Options, VBoard, _pin_levels, ensure_flash, parse_clock

BASE = {"device_id": 1, "key": "00" * 16, "server_host": "127.0.0.1", "server_port": 5683}


def test_an_old_config_without_a_profile_is_a_water_meter() -> None:
    cfg = config.validate(dict(BASE))
    assert cfg["profile"] == "water"
    assert cfg["heartbeat_s"] == 86400


@pytest.mark.parametrize("profile", profiles.names())
def test_every_profile_is_accepted(profile: str) -> None:
    assert config.validate({**BASE, "profile": profile})["profile"] == profile


def test_an_unknown_profile_is_refused_naming_the_choices() -> None:
    with pytest.raises(config.ConfigError, match="profile: must be one of water, gas-cjt188"):
        config.validate({**BASE, "profile": "heat"})
    with pytest.raises(config.ConfigError, match="heartbeat_s: must be 60"):
        config.validate({**BASE, "heartbeat_s": 5})


def test_every_board_has_a_valid_meter_bus() -> None:
    for name in boards.board_names():
        mb = boards.load(name)["meterbus"]
        assert mb["baud"] == 2400 and mb["parity"] == "even", (name, mb)


def _esp32() -> dict[str, Any]:
    return copy.deepcopy(boards.load("esp32_bc28"))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"parity": "mark"}, "'meterbus.parity' must be one of"),
        ({"baud": 2401}, "'meterbus.baud' must be one of"),
        ({"tx": None}, "a real board needs 'meterbus.tx' and 'meterbus.rx'"),
        ({"uart": 2}, "must not be the modem's UART"),
        ({"uart": "1"}, "'meterbus.uart' must be int"),
        ({"speed": 1}, "unknown keys ['speed']"),
    ],
)
def test_a_bad_meter_bus_is_reported(change: dict[str, Any], problem: str) -> None:
    data = _esp32()
    data["meterbus"].update(change)
    found = boards.validate(data, "esp32_bc28.json")
    assert any(problem in p for p in found), found


def test_a_board_without_a_meter_bus_is_still_valid() -> None:
    data = _esp32()
    del data["meterbus"]
    assert boards.validate(data) == []


def test_vboard_pin_levels_are_checked_against_the_board() -> None:
    board = boards.load("unix_sim")
    assert _pin_levels(["smoke_adc=8000", "tamper=0"], board) == {"smoke_adc": 8000, "tamper": 0}
    with pytest.raises(CommandError, match="no pin 'relay'"):
        _pin_levels(["relay=1"], board)
    with pytest.raises(CommandError, match="VALUE 0..65535"):
        _pin_levels(["smoke_adc=70000"], board)
    with pytest.raises(CommandError, match="NAME=VALUE"):
        _pin_levels(["smoke_adc"], board)


@pytest.fixture
def sleeping_board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A VBoard host (no MicroPython process): boots are recorded instead of spawned."""
    img = tmp_path / "f.img"
    ensure_flash(img, 64 * 1024)
    opts = Options(
        board=boards.load("unix_sim"),
        flash=img,
        flash_size=65536,
        modem_port=None,
        clock=parse_clock(f"{time.time():.6f},1764000000,1"),  # real time
        pin_levels={"smoke_adc": 8000, "tamper": 0},
    )
    board = VBoard(opts, -1, -1)
    boots: list[str | None] = []
    monkeypatch.setattr(
        board, "spawn", lambda mode="normal", cause="", wake=None: boots.append(wake)
    )
    board.boots_seen = boots
    yield board
    board.ctl.close()
    board.tmp.cleanup()


ADDR = ("127.0.0.1", 9)


def test_pin_levels_at_power_up_come_from_the_options(sleeping_board: Any) -> None:
    assert sleeping_board.command("get smoke_adc", ADDR) == "pin smoke_adc 8000 0 0"
    assert sleeping_board.command("get button", ADDR) == "pin button 1 0 0"  # default high


def test_an_adc_wake_level_is_a_comparator_threshold(sleeping_board: Any) -> None:
    vb = sleeping_board
    vb._deepsleep(3_600_000, {"smoke_adc": 30000, "button": 0})
    vb.command("set smoke_adc 12000", ADDR)  # more smoke, still under the threshold
    assert vb.state == "sleeping" and vb.boots_seen == []
    vb.command("set smoke_adc 31000", ADDR)
    assert vb.boots_seen == ["smoke_adc"]


def test_a_wake_pin_already_at_its_level_wakes_at_once(sleeping_board: Any) -> None:
    vb = sleeping_board
    vb.command("set tamper 1", ADDR)  # removed while the board was still awake
    vb._deepsleep(3_600_000, {"smoke_adc": 30000, "tamper": 1})
    assert vb.boots_seen == ["tamper"]


def test_the_one_profile_registry_feeds_config_boards_rig_and_the_demo_choices() -> None:
    from host_tools.rig import demo
    from host_tools.rig.rig import meterbus_args

    assert demo.PROFILES == profiles.names() == tuple(config_profile_choices())
    assert meterbus_args("gas-cjt188") == ["--protocol", "cjt188", "--meter-type", "gas"]
    assert meterbus_args("electricity-dlt645") == ["--protocol", "dlt645"]
    assert meterbus_args("water") is None and meterbus_args("smoke") is None
    board = copy.deepcopy(boards.load("unix_sim"))
    assert boards.board_profiles(board) == list(profiles.names())
    del board["meterbus"], board["pins"]["smoke_adc"]
    assert boards.board_profiles(board) == ["water"]
    with pytest.raises(ValueError, match="unknown profile 'heat-x': one of water, gas-cjt188"):
        profiles.get("heat-x")


def config_profile_choices() -> list[str]:
    """The profile names store.config accepts, read back from its error message."""
    with pytest.raises(config.ConfigError) as err:
        config.validate({**BASE, "profile": "?"})
    return str(err.value).split("must be one of ")[1].split(", ")
