"""`nbkit meter decode cjt188|dlt645|mbus HEX`: explain a captured meter-bus frame, field by field.

HEX may contain spaces, colons or 0x prefixes (``"FE FE 68 10 ..."``). A bad checksum, a length
that does not match the frame, a missing 0x16 or a truncated frame is reported as such (exit 1).
The decoding is the firmware's own codec (nbkit.sense.<protocol>; registry nbkit.sense.protocols).

Example: nbkit meter decode mbus "68 03 03 68 53 FE 50 A1 16" --json
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
from typing import Any

from host_tools.errors import CommandError

from . import bus
from .protocols import PROTOCOLS

FrameError = bus.FrameError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = "Meter-bus tools for field technicians."
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    dec = sub.add_parser("decode", help="decode a captured frame", description=__doc__)
    dec.formatter_class = argparse.RawDescriptionHelpFormatter
    dec.add_argument("protocol", choices=sorted(PROTOCOLS))
    dec.add_argument("hex", nargs="+", help="the frame in hex (may be split over arguments)")
    dec.add_argument("--json", action="store_true", help="print the fields as JSON")


def parse_hex(text: str) -> bytes:
    """Bytes from a technician's hex dump: spaces, colons, commas and 0x prefixes allowed."""
    cleaned = re.sub(r"0[xX]|[\s:,;-]", "", text)
    if not cleaned:
        raise CommandError("no bytes given")
    if len(cleaned) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", cleaned):
        raise CommandError(f"not a hex byte string: {text!r}")
    return bytes.fromhex(cleaned)


def describe(protocol: str, raw: bytes) -> dict[str, Any]:
    """Field dictionary of one captured frame of a registered protocol (raises FrameError)."""
    persona = importlib.import_module(f"host_tools.meterbus.persona_{protocol}")
    fields: dict[str, Any] = persona.describe(raw)
    return fields


def run(args: argparse.Namespace) -> int:
    raw = parse_hex(" ".join(args.hex))
    try:
        fields = describe(args.protocol, raw)
    except FrameError as exc:
        raise CommandError(f"invalid {args.protocol} frame: {exc}") from exc
    except IndexError as exc:
        raise CommandError(f"invalid {args.protocol} frame: fields missing ({exc})") from exc
    if args.json:
        print(json.dumps(fields, indent=2))
        return 0
    for key, value in fields.items():
        if isinstance(value, list):
            print(f"{key} ({len(value)})")
            for item in value:
                print("  " + "  ".join(f"{k}={v}" for k, v in item.items()))
        elif isinstance(value, dict):
            for k, v in value.items():
                print(f"  {k:<22} {v}")
        else:
            print(f"{key:<24} {value}")
    return 0
