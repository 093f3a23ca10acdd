"""`nbkit flash`: the right esptool calls in order, and nothing written for a mismatched file/chip.

No chip exists in CI, so esptool's API is replaced by a recording fake that behaves as esptool 5
does (detect_chip as a context manager returning a ROM loader, run_stub, write_flash reporting
progress through the installed logger). Images are real bytes made by esptool's own image writer.
"""

from __future__ import annotations

import argparse
import inspect
import re
import struct
import tempfile
from pathlib import Path

import esptool.cmds
import pytest
from esptool.bin_image import ESP32FirmwareImage, ImageSegment
from esptool.logger import log
from esptool.targets import CHIP_DEFS

from host_tools.cli import main
from host_tools.device import boards, flash
from host_tools.errors import CommandError


def esp_image(chip: str, app: bool = False) -> bytes:
    """A real ESP image for `chip` (esptool name, e.g. "esp32s3"); app=True: an app image."""
    rom = CHIP_DEFS[chip]
    img = ESP32FirmwareImage()
    img.ROM_LOADER = rom
    img.chip_id = rom.IMAGE_CHIP_ID
    img.entrypoint = 0x40080000
    payload = (struct.pack("<I", flash.APP_DESC_MAGIC) if app else b"") + bytes(range(64))
    segment = ImageSegment(0x3F400020, payload)
    segment.name = "seg"
    img.segments = [segment]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fw.bin"
        img.save(str(out))
        return out.read_bytes()


def uf2(family: int, blocks: int = 3, flags: int = flash.UF2_FLAG_FAMILY) -> bytes:
    """A UF2 file of `blocks` blocks, each block 256 payload bytes for `family`."""
    out = b""
    for i in range(blocks):
        head = struct.pack(
            "<8I", flash.UF2_MAGIC0, flash.UF2_MAGIC1, flags, 0x10000000 + 256 * i, 256, i,
            blocks, family,
        )  # fmt: skip
        out += head + bytes(256) + bytes(476 - 256) + struct.pack("<I", flash.UF2_MAGIC_END)
    return out


def damaged_uf2(block: int) -> bytes:
    """A UF2 whose block `block` has a broken final magic."""
    data = bytearray(uf2(boards.UF2_FAMILIES["rp2040"]))
    data[block * 512 + 508 : block * 512 + 512] = b"XXXX"
    return bytes(data)


class FakeEsptool:
    """esptool.cmds as far as `nbkit flash` uses it; records every call."""

    def __init__(self, chip_name: str = "ESP32", fail: str | None = None) -> None:
        self.calls: list[tuple] = []
        self.chip_name = chip_name
        self.fail = fail

    def _rec(self, *call: object, real_args: tuple = ()) -> None:
        if real_args:  # the call must fit esptool's real signature, or the fake would lie
            inspect.signature(getattr(esptool.cmds, str(call[0]))).bind(*real_args)
        self.calls.append(call)
        if self.fail == call[0]:
            raise OSError(f"{call[0]} failed: Timed out waiting for packet header")

    def detect_chip(self, port: str):
        self._rec("detect_chip", port, real_args=(port,))
        fake = self

        class Rom:
            CHIP_NAME = fake.chip_name
            ESP_ROM_BAUD = 115200

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                fake.calls.append(("close",))

            def change_baud(self, baud: int) -> None:
                fake._rec("change_baud", baud)

        return Rom()

    def run_stub(self, esp):
        self._rec("run_stub", real_args=(esp,))
        return esp

    def attach_flash(self, esp) -> None:
        self._rec("attach_flash", real_args=(esp,))

    def erase_flash(self, esp) -> None:
        self._rec("erase_flash", real_args=(esp,))

    def write_flash(self, esp, addr_data) -> None:
        (offset, data), = addr_data  # fmt: skip
        self._rec("write_flash", offset, len(data), real_args=(esp, addr_data))
        with log.progress(total=len(data), unit="B") as progress:  # as esptool reports
            for _ in range(0, len(data), 64):
                progress.update(64)

    def verify_flash(self, esp, addr_data) -> None:
        self._rec(
            "verify_flash", addr_data[0][0], len(addr_data[0][1]), real_args=(esp, addr_data)
        )

    def reset_chip(self, esp, mode: str) -> None:
        self._rec("reset_chip", mode, real_args=(esp, mode))


def args(**kw) -> argparse.Namespace:
    base = dict(
        board="esp32_bc28", port="/dev/ttyUSB0", firmware=None, erase=False, baud=460800,
        no_verify=False, drive=None, json=False,
    )  # fmt: skip
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.fixture
def esp32_bin(tmp_path: Path) -> Path:
    path = tmp_path / "ESP32_GENERIC.bin"
    path.write_bytes(esp_image("esp32"))
    return path


def names(fake: FakeEsptool) -> list[str]:
    return [c[0] for c in fake.calls]


def test_esp32_is_flashed_at_the_board_offset_then_verified_and_reset(esp32_bin, capsys):
    fake = FakeEsptool()
    assert flash.run(args(firmware=esp32_bin), api=fake) == 0  # type: ignore[arg-type]
    size = esp32_bin.stat().st_size
    assert fake.calls == [
        ("detect_chip", "/dev/ttyUSB0"),
        ("run_stub",),
        ("change_baud", 460800),
        ("attach_flash",),
        ("write_flash", 0x1000, size),
        ("verify_flash", 0x1000, size),
        ("reset_chip", "hard-reset"),
        ("close",),
    ]
    err = capsys.readouterr().err
    assert "100% writing" in err and "\r" not in err  # plain progress lines: not a terminal


def test_erase_comes_before_the_write_and_no_verify_skips_the_read_back(esp32_bin):
    fake = FakeEsptool()
    flash.run(args(firmware=esp32_bin, erase=True, no_verify=True, baud=115200), api=fake)  # type: ignore[arg-type]
    assert names(fake) == [
        "detect_chip", "run_stub", "attach_flash", "erase_flash", "write_flash", "reset_chip",
        "close",
    ]  # fmt: skip


def test_a_chip_that_is_not_the_boards_is_refused_before_anything_is_written(esp32_bin):
    fake = FakeEsptool(chip_name="ESP32-S3")
    with pytest.raises(CommandError, match="is an ESP32-S3, but board data says ESP32"):
        flash.run(args(firmware=esp32_bin), api=fake)  # type: ignore[arg-type]
    assert names(fake) == ["detect_chip", "close"]


@pytest.mark.parametrize(
    "content, message",
    [
        (lambda: esp_image("esp32s3"), "built for esp32s3, but the board is esp32"),
        (lambda: esp_image("esp32c3"), "built for esp32c3, but the board is esp32"),
        (lambda: esp_image("esp32", app=True), "application-only image"),
        (lambda: uf2(boards.UF2_FAMILIES["rp2040"]), "expected 0xE9 (it is a UF2 file"),
        (lambda: b"\x7fELF" + bytes(60), "first byte is 0x7F, expected 0xE9"),
        (lambda: b"\xe9\x01", "too short for an ESP image"),
    ],
)
def test_a_firmware_file_that_does_not_fit_the_board_is_refused_untouched(
    tmp_path, content, message
):
    path = tmp_path / "fw.bin"
    path.write_bytes(content())
    fake = FakeEsptool()
    with pytest.raises(CommandError, match=re.escape(message)):
        flash.run(args(firmware=path), api=fake)  # type: ignore[arg-type]
    assert fake.calls == []  # not even connected


def test_esptool_failures_become_one_clear_error(esp32_bin):
    fake = FakeEsptool(fail="write_flash")
    with pytest.raises(CommandError, match="esptool: write_flash failed: Timed out"):
        flash.run(args(firmware=esp32_bin), api=fake)  # type: ignore[arg-type]
    assert "reset_chip" not in names(fake)


def test_json_output_reports_what_was_done(esp32_bin, capsys):
    flash.run(args(firmware=esp32_bin, json=True), api=FakeEsptool())  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert '"chip": "ESP32"' in out and '"offset": 4096' in out and '"verified": true' in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--board", "esp32_bc28", "--firmware", "FW"], "--port is required for esp32 boards"),
        (["--board", "unix_sim", "--firmware", "FW"], "no firmware to flash (a virtual board)"),
        (["--board", "esp32_bc28", "--port", "p", "--firmware", "nope.bin"], "no such file"),
        (["--board", "nope", "--firmware", "FW"], "unknown board 'nope'"),
        (["--board", "esp32_bc28", "--port", "p", "--firmware", "FW", "--baud", "300"], "too low"),
    ],
)
def test_command_line_mistakes_exit_1_with_the_reason(esp32_bin, capsys, argv, message):
    argv = [str(esp32_bin) if a == "FW" else a for a in argv]
    assert main(["flash", *argv]) == 1
    assert message in capsys.readouterr().err


# ---- RP2040: UF2 onto the BOOTSEL drive -------------------------------------------------------


@pytest.fixture
def drive(tmp_path: Path) -> Path:
    d = tmp_path / "RPI-RP2"
    d.mkdir()
    (d / "INFO_UF2.TXT").write_text(
        "UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n"
    )
    return d


def test_a_uf2_is_copied_to_the_bootsel_drive(tmp_path, drive):
    fw = tmp_path / "RPI_PICO.uf2"
    fw.write_bytes(uf2(boards.UF2_FAMILIES["rp2040"], blocks=4))
    assert flash.run(args(board="rp2040_bc95", port=None, firmware=fw, drive=drive)) == 0
    assert (drive / "firmware.uf2").read_bytes() == fw.read_bytes()


@pytest.mark.parametrize(
    "content, message",
    [
        (lambda: uf2(boards.UF2_FAMILIES["rp2350-arm-s"]), "UF2 is for rp2350-arm-s"),
        (lambda: uf2(0x12345678), "UF2 is for 0x12345678"),
        (lambda: uf2(boards.UF2_FAMILIES["rp2040"], flags=0), "UF2 is for no family"),
        (lambda: uf2(boards.UF2_FAMILIES["rp2040"])[:-100], "truncated"),
        (lambda: esp_image("esp32"), "not a UF2 file: the UF2 magic is missing (it is an ESP"),
        (lambda: damaged_uf2(block=1), "UF2 block 1 is damaged"),
    ],
)
def test_a_uf2_for_another_chip_or_damaged_is_refused_and_not_copied(
    tmp_path, drive, content, message
):
    fw = tmp_path / "fw.uf2"
    fw.write_bytes(content())
    with pytest.raises(CommandError, match=re.escape(message)):
        flash.run(args(board="rp2040_bc95", port=None, firmware=fw, drive=drive))
    assert not (drive / "firmware.uf2").exists()


def test_without_a_drive_the_error_says_exactly_what_to_do(tmp_path, monkeypatch):
    fw = tmp_path / "fw.uf2"
    fw.write_bytes(uf2(boards.UF2_FAMILIES["rp2040"]))
    monkeypatch.setattr(flash, "find_drive", lambda label: None)
    with pytest.raises(CommandError) as err:
        flash.run(args(board="rp2040_bc95", port=None, firmware=fw))
    text = str(err.value)
    assert "no RPI-RP2 drive is mounted" in text
    assert "hold its BOOTSEL button; plug it in" in text and "--drive" in text


def test_a_folder_that_is_not_a_bootsel_drive_is_refused(tmp_path):
    fw = tmp_path / "fw.uf2"
    fw.write_bytes(uf2(boards.UF2_FAMILIES["rp2040"]))
    with pytest.raises(CommandError, match="not a UF2 bootloader drive"):
        flash.run(args(board="rp2040_bc95", port=None, firmware=fw, drive=tmp_path))


def test_the_bootsel_drive_is_found_among_the_mounts(tmp_path, drive):
    mounts = tmp_path / "mounts"
    mounts.write_text(
        f"/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 {drive} vfat rw,nosuid 0 0\n"
        f"/dev/sdc1 {tmp_path / 'OTHER'} vfat rw 0 0\n"
    )
    assert flash.find_drive("RPI-RP2", mounts) == drive
    assert flash.find_drive("RP2350", mounts) is None


def test_every_esp_board_chip_is_known_to_esptool():
    for chip, (name, chip_id) in flash.ESP_CHIPS.items():
        rom = CHIP_DEFS[chip]
        assert (rom.CHIP_NAME, rom.IMAGE_CHIP_ID) == (name, chip_id)
        assert rom.BOOTLOADER_FLASH_OFFSET == boards.ESP_FLASH_OFFSETS[chip], chip
