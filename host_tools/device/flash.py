"""`nbkit flash`: write MicroPython firmware onto a board, refusing a mismatch before writing.

ESP32 family (``flash.chip``/``flash.offset`` in the board data): through esptool's Python API
(``esptool.cmds``, v5): detect the chip, check it is the board's, load the stub, attach the flash,
optionally erase, write (esptool checks the written data's hash), read back to verify, hard reset.
Progress comes through a custom esptool logger, drawn as one bar on stderr.

Before a single byte is written, the file is checked: an ESP image starts with magic 0xE9 and
its extended header names the chip it was built for; a full MicroPython image starts with the
bootloader, not an application (an app descriptor at byte 32 means the wrong file for that
offset). The detected chip must be the board's chip.

RP2040 boards (``flash.uf2_family``): the UF2 file is checked block by block (magics, family id,
block numbering), then copied to the mounted BOOTSEL drive (``flash.drive_label``, or
``--drive``); without a drive, the command says exactly what to do.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from host_tools.device import boards
from host_tools.device.progress import Progress
from host_tools.errors import CommandError

ESP_IMAGE_MAGIC = 0xE9
APP_DESC_MAGIC = 0xABCD5432  # esp_app_desc_t: present in application images only
#: board `flash.chip` -> (esptool CHIP_NAME, image header chip id)
ESP_CHIPS: dict[str, tuple[str, int]] = {
    "esp32": ("ESP32", 0),
    "esp32s2": ("ESP32-S2", 2),
    "esp32c3": ("ESP32-C3", 5),
    "esp32s3": ("ESP32-S3", 9),
    "esp32c2": ("ESP32-C2", 12),
    "esp32c6": ("ESP32-C6", 13),
    "esp32h2": ("ESP32-H2", 16),
    "esp32p4": ("ESP32-P4", 18),
    "esp32c5": ("ESP32-C5", 23),
}
UF2_MAGIC0, UF2_MAGIC1, UF2_MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
UF2_FLAG_FAMILY = 0x00002000
UF2_BLOCK = 512
BOOTSEL_STEPS = (
    "unplug the board; hold its BOOTSEL button; plug it in; release BOOTSEL; a USB drive "
    "labelled {label} appears (mount it if your desktop does not); then run this command again, "
    "or pass --drive /path/to/{label}"
)


# ---- file checks (no hardware) ---------------------------------------------------------------


def check_esp_image(data: bytes, chip: str) -> None:
    """Refuse anything but a full firmware image built for `chip` (a board `flash.chip`)."""
    name, chip_id = ESP_CHIPS[chip]
    if len(data) < 36:
        raise CommandError(f"the firmware file is {len(data)} bytes: too short for an ESP image")
    if data[0] != ESP_IMAGE_MAGIC:
        kind = " (it is a UF2 file, for an RP2040 board)" if _is_uf2(data) else ""
        raise CommandError(
            f"not an ESP firmware image: first byte is 0x{data[0]:02X}, expected 0xE9{kind}"
        )
    image_chip = struct.unpack_from("<H", data, 12)[0]
    if image_chip != chip_id:
        built_for = next((n for n, (_, i) in ESP_CHIPS.items() if i == image_chip), None)
        raise CommandError(
            f"the firmware is built for {built_for or f'chip id {image_chip}'}, but the board "
            f"is {chip}: download the MicroPython build for {name}"
        )
    if struct.unpack_from("<I", data, 32)[0] == APP_DESC_MAGIC:
        raise CommandError(
            "this is an application-only image (it belongs at 0x10000); flash the full "
            "MicroPython .bin (bootloader, partition table and app) from micropython.org"
        )


def _is_uf2(data: bytes) -> bool:
    return len(data) >= 8 and struct.unpack_from("<II", data) == (UF2_MAGIC0, UF2_MAGIC1)


def check_uf2(data: bytes, family: str) -> int:
    """Refuse a UF2 that is damaged or for another family; return its block count."""
    want = boards.UF2_FAMILIES[family]
    if not _is_uf2(data):
        kind = " (it is an ESP image)" if data[:1] == bytes([ESP_IMAGE_MAGIC]) else ""
        raise CommandError(f"not a UF2 file: the UF2 magic is missing{kind}")
    if len(data) % UF2_BLOCK:
        raise CommandError(
            f"UF2 file is truncated: {len(data)} bytes is not whole 512-byte blocks"
        )
    count = len(data) // UF2_BLOCK
    for i in range(count):
        block = data[i * UF2_BLOCK : (i + 1) * UF2_BLOCK]
        m0, m1, flags, _addr, size, number, total, fam = struct.unpack_from("<8I", block)
        if (m0, m1, struct.unpack_from("<I", block, 508)[0]) != (
            UF2_MAGIC0,
            UF2_MAGIC1,
            UF2_MAGIC_END,
        ):
            raise CommandError(f"UF2 block {i} is damaged (bad magic)")
        if not flags & UF2_FLAG_FAMILY or fam != want:
            names = {v: k for k, v in boards.UF2_FAMILIES.items()}
            got = names.get(fam, f"0x{fam:08x}") if flags & UF2_FLAG_FAMILY else "no family"
            raise CommandError(
                f"the UF2 is for {got}, but the board is {family} (family 0x{want:08x}): "
                f"download the MicroPython build for this board"
            )
        if number != i or total != count or size > 476:
            raise CommandError(f"UF2 block {i} is out of sequence or oversized")
    return count


# ---- esptool ---------------------------------------------------------------------------------


class ProgressBar:
    """Progress of esptool's stages on stderr: a bar on a terminal, plain lines otherwise, or
    JSON lines with --json."""

    def __init__(self, as_json: bool = False) -> None:
        self.as_json = as_json
        self.last = -1
        self.bar: Progress | None = None
        self.label = ""

    def draw(self, done: int, total: int, label: str) -> None:
        """Show done/total of the stage `label`."""
        pct = done * 100 // max(total, 1)
        if pct == self.last:
            return
        self.last = pct
        if self.as_json:
            print(json.dumps({"progress": pct, "stage": label}), file=sys.stderr)
            return
        if self.bar is None or label != self.label:
            self.bar, self.label = Progress(100), label
        self.bar.set(pct, label)
        if pct >= 100:
            self.bar.close()
            self.bar, self.last = None, -1


def _make_logger(bar: ProgressBar, messages: list[str]) -> Any:
    """An esptool TemplateLogger that feeds the bar and keeps esptool's messages."""
    from esptool.logger import TemplateLogger

    class NbkitLogger(TemplateLogger):
        def print(self, *args: Any, **kwargs: Any) -> None:
            messages.append(" ".join(str(a) for a in args))

        def note(self, message: str) -> None:
            messages.append(f"note: {message}")

        def warning(self, message: str) -> None:
            print(f"nbkit flash: warning: {message}", file=sys.stderr)

        def error(self, message: str) -> None:
            print(f"nbkit flash: {message}", file=sys.stderr)

        def stage(self, finish: bool = False) -> None:
            pass

        def progress_bar(
            self,
            cur_iter: int,
            total_iters: int,
            prefix: str = "",
            suffix: str = "",
            bar_length: int = 30,
        ) -> None:
            bar.draw(cur_iter, total_iters, prefix.strip().rstrip(":") or "writing")

        def set_verbosity(self, verbosity: str) -> None:
            pass

    return NbkitLogger()


def esptool_api() -> ModuleType:
    """The esptool v5 scripting API (`esptool.cmds`); tests substitute a recording fake."""
    import esptool.cmds

    return esptool.cmds


@dataclass
class EspJob:
    """One ESP flashing: where, what, how."""

    port: str
    chip: str
    offset: int
    data: bytes
    baud: int = 460800
    erase: bool = False
    verify: bool = True


def flash_esp(job: EspJob, api: ModuleType, say: Callable[[str], None]) -> str:
    """Run the esptool steps; refuse a chip that is not the board's before writing."""
    name = ESP_CHIPS[job.chip][0]
    with api.detect_chip(job.port) as rom:
        if rom.CHIP_NAME != name:
            raise CommandError(
                f"the board on {job.port} is an {rom.CHIP_NAME}, but board data says {name}: "
                f"pick the matching --board (nothing was written)"
            )
        say(f"detected {rom.CHIP_NAME} on {job.port}")
        esp = api.run_stub(rom)
        if job.baud != rom.ESP_ROM_BAUD:
            esp.change_baud(job.baud)
        api.attach_flash(esp)
        if job.erase:
            say("erasing the whole flash")
            api.erase_flash(esp)
        say(f"writing {len(job.data)} bytes at 0x{job.offset:x}")
        api.write_flash(esp, [(job.offset, job.data)])
        if job.verify:
            say("verifying (reading the flash back)")
            api.verify_flash(esp, [(job.offset, job.data)])
        api.reset_chip(esp, "hard-reset")
    return name


# ---- RP2040 ----------------------------------------------------------------------------------


def find_drive(label: str, mounts: Path = Path("/proc/mounts")) -> Path | None:
    """The mount point of a BOOTSEL drive called `label` (it holds INFO_UF2.TXT), if any."""
    candidates: list[Path] = []
    if mounts.is_file():
        for line in mounts.read_text().splitlines():
            fields = line.split()
            if len(fields) > 1:
                point = Path(fields[1].replace("\\040", " "))
                if point.name == label:
                    candidates.append(point)
    user = os.environ.get("USER", "")
    candidates += [Path(p) / label for p in (f"/media/{user}", f"/run/media/{user}", "/Volumes")]
    return next((p for p in candidates if (p / "INFO_UF2.TXT").is_file()), None)


def flash_uf2(data: bytes, drive: Path) -> Path:
    """Copy the UF2 onto the BOOTSEL drive; the board reboots into it when the copy closes."""
    if not (drive / "INFO_UF2.TXT").is_file():
        raise CommandError(f"{drive} is not a UF2 bootloader drive (no INFO_UF2.TXT)")
    target = drive / "firmware.uf2"
    with open(target, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return target


# ---- command ---------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Write a MicroPython firmware file onto a board: esptool for ESP32-family boards "
        "(chip and offset from boards/<board>.json), UF2 copy for RP2040 boards. The file and "
        "the chip are checked against the board before anything is written."
    )
    parser.add_argument("--board", required=True, help="board name (a file in boards/)")
    parser.add_argument("--port", help="serial port of an ESP32 board (e.g. /dev/ttyUSB0)")
    parser.add_argument("--firmware", required=True, type=Path, help=".bin (ESP32) or .uf2 file")
    parser.add_argument("--erase", action="store_true", help="erase the whole flash first")
    parser.add_argument(
        "--baud", type=int, default=460800, help="esptool baud rate after connecting"
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip reading the flash back after writing"
    )
    parser.add_argument("--drive", type=Path, help="RP2040: the mounted BOOTSEL drive")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, api: ModuleType | None = None) -> int:
    board = boards.load(args.board)
    spec = board.get("flash")
    if board["port"] == "unix" or not spec:
        raise CommandError(f"board '{args.board}' has no firmware to flash (a virtual board)")
    if not args.firmware.is_file():
        raise CommandError(f"--firmware {args.firmware}: no such file")
    data = args.firmware.read_bytes()
    say = (lambda _m: None) if args.json else (lambda m: print(f"nbkit flash: {m}"))
    if "uf2_family" in spec:
        return _run_uf2(args, spec, data, say)
    if not args.port:
        raise CommandError(f"--port is required for {board['mcu']} boards")
    if args.baud < 9600:
        raise CommandError(f"--baud {args.baud}: too low (9600 or more)")
    check_esp_image(data, spec["chip"])
    from esp_pylib.logger import EspLog
    from esptool.logger import EsptoolLogger

    messages: list[str] = []
    saved = EspLog.instance
    EsptoolLogger().set_logger(_make_logger(ProgressBar(args.json), messages))
    job = EspJob(
        args.port, spec["chip"], spec["offset"], data, args.baud, args.erase, not args.no_verify
    )
    try:
        chip = flash_esp(job, api or esptool_api(), say)
    except CommandError:
        raise
    except Exception as exc:  # esptool's FatalError, serial errors
        raise CommandError(f"esptool: {exc}") from exc
    finally:
        EspLog.instance = saved
    result = {"board": args.board, "chip": chip, "offset": job.offset, "bytes": len(data)}
    result["verified"] = job.verify
    print(json.dumps(result) if args.json else "nbkit flash: done; the board has been reset")
    return 0


def _run_uf2(
    args: argparse.Namespace, spec: dict[str, Any], data: bytes, say: Callable[[str], None]
) -> int:
    blocks = check_uf2(data, spec["uf2_family"])
    label = spec.get("drive_label", "RPI-RP2")
    drive = args.drive or find_drive(label)
    if drive is None:
        raise CommandError(f"no {label} drive is mounted: " + BOOTSEL_STEPS.format(label=label))
    say(f"copying {blocks} UF2 blocks to {drive}")
    target = flash_uf2(data, drive)
    if args.json:
        print(json.dumps({"board": args.board, "copied_to": str(target), "blocks": blocks}))
    else:
        print(f"nbkit flash: copied to {target}; the board reboots into MicroPython")
    return 0
