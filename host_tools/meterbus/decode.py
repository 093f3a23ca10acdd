"""`nbkit meter decode cjt188|dlt645 HEX`: explain a captured meter-bus frame, field by field.

HEX may contain spaces, colons or 0x prefixes (``"FE FE 68 10 ..."``). A bad checksum, a length
that does not match the frame, a missing 0x16 or a truncated frame is reported as such (exit 1).
The decoding is the firmware's own codec (nbkit.sense.cjt188 / nbkit.sense.dlt645).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from host_tools.errors import CommandError

from . import bus, cjt188, dlt645, names

FrameError = bus.FrameError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = "Meter-bus tools for field technicians."
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    dec = sub.add_parser("decode", help="decode a captured frame", description=__doc__)
    dec.formatter_class = argparse.RawDescriptionHelpFormatter
    dec.add_argument("protocol", choices=("cjt188", "dlt645"))
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


def _control(c: int, function_names: dict[int, str], fn: int) -> str:
    parts = ["reply" if c & 0x80 else "request"]
    if c & 0x40:
        parts.append("ABNORMAL")
    parts.append(function_names.get(fn, f"function 0x{fn:02X}"))
    return ", ".join(parts)


def decode_cjt188(raw: bytes) -> dict[str, Any]:
    """Field dictionary of a CJ/T 188 frame (raises FrameError)."""
    f = cjt188.decode(raw)
    start = bus.skip_wake(raw)
    out: dict[str, Any] = {
        "protocol": "CJ/T 188-2004",
        "preamble_bytes": start,
        "meter_type": f"0x{f.meter_type:02X} {names.CJT_TYPE_NAMES.get(f.meter_type, 'unknown')}",
        "address": f.address,
        "control": f"0x{f.control:02X} "
        + _control(f.control, names.CJT_FUNCTION_NAMES, f.function()),
        "length": raw[start + cjt188.LEN_AT],
        "checksum": f"0x{raw[-2]:02X} ok",
    }
    if f.di is not None:
        order = "low byte first" if f.di_lsb_first else "high byte first"
        name = names.CJT_DI_NAMES.get(f.di, "unknown")
        out["di"] = f"0x{f.di:04X} {name} (sent {order})"
    if f.ser is not None:
        out["ser"] = f"0x{f.ser:02X}"
    out["data"] = f.data.hex(" ").upper()
    if f.is_abnormal():
        st = f.data[0] | f.data[1] << 8 if len(f.data) >= 2 else 0
        status = cjt188.DEFAULT_STATUS
        battery = ", battery low" if status.battery_low(st) else ""
        out["error_status"] = f"0x{st:04X} (valve {status.valve(st)}{battery})"
    elif f.is_reply() and f.di == cjt188.DI_CURRENT:
        out["values"] = _cjt_values(cjt188.parse_current(f.data))
    elif f.is_reply() and f.di == cjt188.DI_VALVE and len(f.data) >= 2:
        out["values"] = {"valve": cjt188.DEFAULT_STATUS.valve(f.data[0] | f.data[1] << 8)}
    return out


def _cjt_values(r: cjt188.Reading) -> dict[str, Any]:
    unit = r.unit_name()
    settle_unit = names.unit_name(r.settle_unit)
    clock = None
    if r.clock:
        y, mo, d, h, mi, s = r.clock
        clock = f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}"
    return {
        "total": f"{cjt188.fixed2(r.total)} {unit}",
        "settlement_day_total": f"{cjt188.fixed2(r.settle)} {settle_unit}",
        "meter_clock": clock or "-- (not set)",
        "status": f"0x{r.status:04X}",
        "valve": r.valve,
        "battery_low": r.battery_low,
    }


def decode_dlt645(raw: bytes) -> dict[str, Any]:
    """Field dictionary of a DL/T 645-2007 frame (raises FrameError)."""
    f = dlt645.decode(raw)
    start = bus.skip_wake(raw)
    out: dict[str, Any] = {
        "protocol": "DL/T 645-2007",
        "preamble_bytes": start,
        "address": f.address,
        "control": f"0x{f.control:02X} "
        + _control(f.control, names.DLT_FUNCTION_NAMES, f.function()),
        "length": raw[start + dlt645.LEN_AT],
        "checksum": f"0x{raw[-2]:02X} ok",
        "data": f.data.hex(" ").upper() + " (after -0x33)",
    }
    if f.has_follow_up():
        out["follow_up"] = True
    if f.is_abnormal():
        out["error"] = dlt645.error_text(f.data[0] if f.data else 0)
    elif f.function() == dlt645.C_READ_ADDR and f.is_reply() and len(f.data) >= 6:
        out["values"] = {"meter_address": dlt645.address_str(f.data[:6])}
    elif f.di is not None:
        spec = dlt645.DIS.get(f.di)
        out["di"] = f"{f.di:08X} {spec[0] if spec else 'unknown'}"
        if f.is_reply() and len(f.data) > 4:
            value, decimals, unit = dlt645.value_of(f.di, f.data[4:])
            if isinstance(value, int) and decimals >= 0:
                text = dlt645.fixed(value, decimals)
            elif isinstance(value, int):
                text = f"0x{value:04X}"
            elif isinstance(value, bytes):
                text = value.hex(" ").upper()
            else:
                text = str(value)
            out["values"] = {spec[0] if spec else "value": f"{text} {unit}".strip()}
    return out


def run(args: argparse.Namespace) -> int:
    raw = parse_hex(" ".join(args.hex))
    try:
        fields = decode_cjt188(raw) if args.protocol == "cjt188" else decode_dlt645(raw)
    except FrameError as exc:
        raise CommandError(f"invalid {args.protocol} frame: {exc}") from exc
    except IndexError as exc:
        raise CommandError(f"invalid {args.protocol} frame: fields missing ({exc})") from exc
    if args.json:
        print(json.dumps(fields, indent=2))
        return 0
    for key, value in fields.items():
        if isinstance(value, dict):
            for k, v in value.items():
                print(f"  {k:<22} {v}")
        else:
            print(f"{key:<24} {value}")
    return 0
