"""Every board file is valid data; invalid data is refused with the reason."""

from __future__ import annotations

import copy
import json

import pytest

from host_tools.device import boards
from host_tools.errors import CommandError


@pytest.mark.parametrize("name", boards.board_names())
def test_every_board_file_is_valid(name):
    data = boards.load(name)
    assert boards.validate(data) == []
    assert data["modem"]["model"] in boards.MODEM_MODELS


def test_the_required_boards_exist():
    names = boards.board_names()
    assert "unix_sim" in names
    mcus = {boards.load(n)["mcu"]: boards.load(n)["modem"]["model"] for n in names}
    assert mcus.get("esp32") == "bc28"
    assert mcus.get("rp2040") == "bc95"


def _good():
    return copy.deepcopy(boards.load("esp32_bc28"))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b.pop("mpy_arch"), "missing key 'mpy_arch'"),
        (lambda b: b["modem"].update(model="sim800"), "'modem.model' must be one of"),
        (lambda b: b["modem"]["uart"].update(tx="17"), "'modem.uart.tx' must be int or null"),
        (lambda b: b.update(heap_bytes=True), "'heap_bytes' must be int"),
        (lambda b: b.update(heap_bytes=1024), "'heap_bytes' must be 16 KiB"),
        (
            lambda b: b["modem"]["uart"].update(rx=None),
            "needs 'modem.uart.tx' and 'modem.uart.rx'",
        ),
        (lambda b: b.update(mpy_arch="z80"), "'mpy_arch' must be one of"),
        (lambda b: b.update(pulse_reverse="pulse_c"), "'pulse_reverse' must name a pin"),
    ],
)
def test_invalid_board_data_is_refused_with_the_reason(mutate, message):
    data = _good()
    mutate(data)
    problems = boards.validate(data, "x.json")
    assert any(message in p for p in problems), problems


def test_unknown_board_names_the_known_ones():
    with pytest.raises(CommandError, match="unknown board 'nope'; known boards: .*unix_sim"):
        boards.load("nope")


def test_wiring_table_comes_from_the_board_data():
    table = boards.wiring_table(boards.load("rp2040_bc95"))
    assert "| GPIO0 | BC95 RXD (MCU TX, UART0, 9600 8N1) |" in table
    assert "| GPIO1 | BC95 TXD (MCU RX, UART0) |" in table
    assert "| GPIO2 | BC95 PWRKEY" in table


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b.pop("flash"), "'flash' must be an object"),
        (lambda b: b["flash"].update(chip="esp8266"), "'flash.chip' must be one of"),
        (lambda b: b["flash"].update(offset="4096"), "'flash.offset' must be int"),
        (lambda b: b["flash"].update(offset=0x10000), "'flash.offset' for esp32 must be 0x1000"),
    ],
)
def test_esp32_flash_data_names_a_known_chip_at_its_image_offset(mutate, message):
    data = _good()
    mutate(data)
    problems = boards.validate(data, "x.json")
    assert any(message in p for p in problems), problems


def test_rp2040_flash_data_names_a_uf2_family_and_drive():
    data = copy.deepcopy(boards.load("rp2040_bc95"))
    data["flash"]["uf2_family"] = "samd21"
    assert any("'flash.uf2_family' must be one of" in p for p in boards.validate(data))
    data["flash"] = {"uf2_family": "rp2040"}
    assert any("'flash.drive_label' must be str" in p for p in boards.validate(data))


def test_host_only_power_figures_never_reach_the_device(tmp_path):
    # the firmware parses board.json at every wake: the cited energy figures stay on the host
    from host_tools.device.build import build_board

    build_board("unix_sim", tmp_path)
    on_device = json.loads((tmp_path / "unix_sim" / "board.json").read_text())
    assert "power" not in on_device and on_device["modem"] == boards.load("unix_sim")["modem"]
