"""Board data files (`boards/*.json`): loading, validation and `nbkit boards`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nbkit import profiles
from nbkit.modem import models as modem_models

from host_tools import BOARDS_DIR
from host_tools.errors import CommandError

#: Modem models the firmware has a driver for: the firmware's registry (nbkit/modem/models.py).
MODEM_MODELS = modem_models.names()
#: mpy-cross -march values (see mpy-cross --help).
MPY_ARCHES = (
    "x64",
    "x86",
    "armv6m",
    "armv7m",
    "armv7em",
    "armv7emsp",
    "xtensa",
    "xtensawin",
    "rv32imc",
)
PORTS = ("unix", "esp32", "rp2")
#: ESP chip (board `flash.chip`) -> offset of a full MicroPython image (its bootloader offset)
ESP_FLASH_OFFSETS = {
    "esp32": 0x1000,
    "esp32s2": 0x1000,
    "esp32s3": 0x0,
    "esp32c3": 0x0,
    "esp32c2": 0x0,
    "esp32c6": 0x0,
    "esp32h2": 0x0,
    "esp32c5": 0x2000,
    "esp32p4": 0x2000,
}
#: UF2 family (board `flash.uf2_family`) -> family id in the UF2 blocks
#: Meter-bus UART (CJ/T 188, DL/T 645): rates a meter bus uses, parity names
METERBUS_BAUDS = (1200, 2400, 4800, 9600)
PARITIES = ("none", "even", "odd")
UF2_FAMILIES = {
    "rp2040": 0xE48BFF56,
    "rp2350-arm-s": 0xE48BFF59,
    "rp2350-riscv": 0xE48BFF5A,
}

_PIN = (int, type(None))
# dotted key -> accepted types
_SCHEMA: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "description": (str,),
    "port": (str,),
    "mcu": (str,),
    "mpy_arch": (str,),
    "heap_bytes": (int,),
    "modem.model": (str,),
    "modem.uart.id": (int,),
    "modem.uart.tx": _PIN,
    "modem.uart.rx": _PIN,
    "modem.uart.baud": (int,),
    "modem.pwrkey": _PIN,
    "modem.reset": _PIN,
    "console.baud": (int,),
    "pins.pulse_a": _PIN,
    "pins.pulse_b": _PIN,
    "pins.tamper": _PIN,
    "pins.button": _PIN,
    "pins.smoke_adc": _PIN,
}


def _lookup(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def validate(data: Any, origin: str = "board") -> list[str]:
    """Return every problem found in one board's data (empty list: valid)."""
    if not isinstance(data, dict):
        return [f"{origin}: top level must be a JSON object"]
    problems = []
    for key, types in _SCHEMA.items():
        try:
            value = _lookup(data, key)
        except KeyError:
            problems.append(f"{origin}: missing key '{key}'")
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            problems.append(f"{origin}: '{key}' must be {names}, got {value!r}")
    if problems:
        return problems
    checks = [
        (data["port"] in PORTS, f"'port' must be one of {PORTS}"),
        (data["mpy_arch"] in MPY_ARCHES, f"'mpy_arch' must be one of {MPY_ARCHES}"),
        (data["modem"]["model"] in MODEM_MODELS, f"'modem.model' must be one of {MODEM_MODELS}"),
        (16_384 <= data["heap_bytes"] <= 8_388_608, "'heap_bytes' must be 16 KiB .. 8 MiB"),
        (
            data["modem"]["uart"]["baud"] in (4800, 9600, 19200, 38400, 57600, 115200),
            "'modem.uart.baud' must be a standard rate",
        ),
    ]
    if data["port"] != "unix":
        checks.append(
            (
                data["modem"]["uart"]["tx"] is not None
                and data["modem"]["uart"]["rx"] is not None,
                "a real board needs 'modem.uart.tx' and 'modem.uart.rx' pins",
            )
        )
    problems += [f"{origin}: {msg}" for ok, msg in checks if not ok]
    problems += [f"{origin}: {msg}" for msg in _meterbus_problems(data)]
    rev = data.get("pulse_reverse")
    if rev is not None and rev not in data["pins"]:
        problems.append(
            f"{origin}: 'pulse_reverse' must name a pin of 'pins' (the counter of the board's "
            f"hardware quadrature decoder that holds reverse pulses) or be null, got {rev!r}"
        )
    problems += [f"{origin}: {msg}" for msg in _power_problems(data)]
    return problems + [f"{origin}: {msg}" for msg in _flash_problems(data)]


#: `power` section: figure -> unit key. Every figure is {"<unit>": number >= 0, "source": str}
#: ("assumption: ..." when not from a datasheet or measurement); the energy model reads them.
POWER_FIGURES = {
    "mcu_sleep": "ua",
    "mcu_active": "ma",
    "mcu_wake": "s",
    "pulse_counter": "ua",
    "meterbus_sleep": "ua",
    "meterbus_active": "ma",
    "meterbus_read": "s",
}


def _power_problems(data: dict[str, Any]) -> list[str]:
    """The cited currents of the board (MCU, meter front-end) for the whole-device estimate."""
    spec = data.get("power")
    if not isinstance(spec, dict):
        return ["'power' must be an object of cited figures: " + ", ".join(POWER_FIGURES)]
    problems = []
    for name, unit in POWER_FIGURES.items():
        fig = spec.get(name)
        if not isinstance(fig, dict):
            problems.append(f"'power.{name}' must be {{'{unit}': <number>, 'source': '...'}}")
            continue
        value = fig.get(unit)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append(f"'power.{name}' needs '{unit}': a number >= 0")
        elif not isinstance(fig.get("source"), str) or not fig["source"].strip():
            problems.append(f"'power.{name}' needs a 'source' (or 'assumption: ...')")
    unknown = sorted(set(spec) - set(POWER_FIGURES))
    if unknown:
        problems.append(f"'power' has unknown keys {unknown}")
    return problems


def _meterbus_problems(data: dict[str, Any]) -> list[str]:
    """The optional meter-bus UART: `meterbus: {uart, tx, rx, baud, parity}`."""
    spec = data.get("meterbus")
    if spec is None:
        return []  # a board without a meter bus (pulse or smoke only)
    if not isinstance(spec, dict):
        return ["'meterbus' must be an object {uart, tx, rx, baud, parity}"]
    problems = []
    for key, types in (("uart", (int,)), ("tx", _PIN), ("rx", _PIN), ("baud", (int,))):
        value = spec.get(key, ...)
        if value is ... or isinstance(value, bool) or not isinstance(value, types):
            problems.append(
                f"'meterbus.{key}' must be {'int' if types == (int,) else 'int or null'}"
            )
    if problems:
        return problems
    if spec["baud"] not in METERBUS_BAUDS:
        problems.append(f"'meterbus.baud' must be one of {METERBUS_BAUDS}")
    if spec.get("parity") not in PARITIES:
        problems.append(f"'meterbus.parity' must be one of {PARITIES}")
    if data["port"] != "unix" and (spec["tx"] is None or spec["rx"] is None):
        problems.append("a real board needs 'meterbus.tx' and 'meterbus.rx' pins")
    if data["port"] != "unix" and spec["uart"] == data["modem"]["uart"]["id"]:
        problems.append("'meterbus.uart' must not be the modem's UART")
    unknown = sorted(set(spec) - {"uart", "tx", "rx", "baud", "parity"})
    if unknown:
        problems.append(f"'meterbus' has unknown keys {unknown}")
    return problems


def _flash_problems(data: dict[str, Any]) -> list[str]:
    """How firmware gets onto the board: esptool (chip, offset) or a UF2 drive (family)."""
    spec = data.get("flash")
    if data["port"] == "unix":
        return [] if spec is None else ["a virtual board has no 'flash' section"]
    if not isinstance(spec, dict):
        return ["'flash' must be an object (how firmware is written onto the board)"]
    if data["port"] == "esp32":
        chip, offset = spec.get("chip"), spec.get("offset")
        if chip not in ESP_FLASH_OFFSETS:
            return [f"'flash.chip' must be one of {tuple(ESP_FLASH_OFFSETS)}"]
        if not isinstance(offset, int) or isinstance(offset, bool):
            return ["'flash.offset' must be int"]
        if offset != ESP_FLASH_OFFSETS[chip]:
            return [f"'flash.offset' for {chip} must be {ESP_FLASH_OFFSETS[chip]:#x}"]
        if not isinstance(spec.get("encryption", False), bool):
            return ["'flash.encryption' must be true or false (ESP-IDF flash encryption on)"]
        return []
    if spec.get("uf2_family") not in UF2_FAMILIES:
        return [f"'flash.uf2_family' must be one of {tuple(UF2_FAMILIES)}"]
    if not isinstance(spec.get("drive_label"), str):
        return ["'flash.drive_label' must be str (the BOOTSEL drive's name)"]
    return []


#: sections of a board file that only the host reads (never copied onto the device, where the
#: firmware parses board.json at every wake on a small heap)
HOST_ONLY = ("power",)


def device_data(board: dict[str, Any]) -> dict[str, Any]:
    """The board data the firmware gets (`board.json`): everything but :data:`HOST_ONLY`."""
    return {k: v for k, v in board.items() if k not in HOST_ONLY}


def board_names() -> list[str]:
    """Names of every board file, sorted."""
    # boards/<name>.mip.json are the boards' mip packages (host_tools/device/packaging.py)
    return sorted(p.stem for p in BOARDS_DIR.glob("*.json") if not p.name.endswith(".mip.json"))


def load(name: str) -> dict[str, Any]:
    """Load and validate one board; raise CommandError naming the problem."""
    path = BOARDS_DIR / f"{name}.json"
    if not path.is_file():
        raise CommandError(f"unknown board '{name}'; known boards: {', '.join(board_names())}")
    return load_path(path)


def load_path(path: Path) -> dict[str, Any]:
    """Load and validate a board file by path."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not valid JSON ({exc})") from exc
    problems = validate(data, path.name)
    if data.get("name") != path.stem if isinstance(data, dict) else False:
        problems.append(f"{path.name}: 'name' must equal the file name '{path.stem}'")
    if problems:
        raise CommandError("; ".join(problems))
    return data


def board_profiles(board: dict[str, Any]) -> list[str]:
    """The device profiles (firmware/nbkit/profiles.py) this board can run: it has every pin the
    profile uses, and a meter bus when the profile reads one."""
    out = []
    for name in profiles.names():
        _, _, bus, _, pins = profiles.get(name)
        if all(pin in board["pins"] for pin in pins) and (bus is None or board.get("meterbus")):
            out.append(name)
    return out


def wiring_table(board: dict[str, Any]) -> str:
    """A Markdown wiring table for one board (MCU pin -> what to connect), from its data."""
    m = board["modem"]
    model = m["model"].upper()
    rows = [
        (m["uart"]["tx"], f"{model} RXD (MCU TX, UART{m['uart']['id']}, {m['uart']['baud']} 8N1)"),
        (m["uart"]["rx"], f"{model} TXD (MCU RX, UART{m['uart']['id']})"),
        (m["pwrkey"], f"{model} PWRKEY (through the module's level shifter/transistor)"),
        (m["reset"], f"{model} RESET"),
    ]
    mb = board.get("meterbus")
    if mb:
        line = f"UART{mb['uart']}, {mb['baud']} 8{mb['parity'][0].upper()}1"
        rows += [
            (mb["tx"], f"meter-bus transceiver TXD in (MCU TX, {line})"),
            (mb["rx"], f"meter-bus transceiver RXD out (MCU RX, UART{mb['uart']})"),
        ]
    rows += [(pin, name.replace("_", " ")) for name, pin in board["pins"].items()]
    lines = [
        f"**{board['name']}** — {board['description']}",
        "",
        "| MCU pin | connect to |",
        "| --- | --- |",
    ]
    lines += [f"| GPIO{pin} | {what} |" for pin, what in rows if pin is not None]
    lines += [
        "| GND | module GND (common ground) |",
        f"| — | {model} VBAT from the 3.6 V cell (not from the MCU's 3V3 regulator) |",
    ]
    return "\n".join(lines)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the boards as JSON")
    parser.add_argument(
        "--wiring", action="store_true", help="print a Markdown wiring table for each real board"
    )


def run(args: argparse.Namespace) -> int:
    boards = [load(name) for name in board_names()]
    if args.json:
        print(json.dumps(boards, indent=2))
        return 0
    if args.wiring:
        print("\n\n".join(wiring_table(b) for b in boards if b["port"] != "unix"))
        return 0
    for b in boards:
        m = b["modem"]
        print(
            f"{b['name']:<14} {b['mcu']:<8} {m['model']:<5} arch={b['mpy_arch']:<10} "
            f"heap={b['heap_bytes'] // 1024} KiB  {b['description']}"
        )
        print(f"{'':<14} profiles: {', '.join(board_profiles(b)) or 'none'}")
    return 0
