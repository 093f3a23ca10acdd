"""CJ/T 188 on the host: the emulated water/gas meter and `nbkit meter decode cjt188`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from . import bus, cjt188, names
from .meters import Cjt188Meter as Persona

__all__ = ["ANSWER_DELAY_S", "METER_TYPES", "Persona", "build", "describe"]

#: the meter's answer delay on the bus (from the request's last bit to the reply's first), the
#: slowest the link rules allow: CJ/T 188-2004 keeps DL/T 645's link layer (FE preamble, 68 ..
#: CS 16, 2400 8E1) and its response window, 20 ms <= Td <= 500 ms (DL/T 645-2007 5.3.3)
ANSWER_DELAY_S = 0.5

#: --meter-type choices
METER_TYPES = {
    "water": cjt188.TYPE_COLD_WATER,
    "hot-water": cjt188.TYPE_HOT_WATER,
    "gas": cjt188.TYPE_GAS,
}


def build(args: argparse.Namespace, now: Callable[[], float]) -> Persona:
    """The emulated meter of `nbkit meterbus --protocol cjt188` (--meter-type, --valve)."""
    kind = args.meter_type or "water"
    if kind not in METER_TYPES:
        raise ValueError(f"--meter-type {kind}: a CJ/T 188 meter is water, hot-water or gas")
    meter = Persona(meter_type=METER_TYPES[kind], now=now)
    if args.valve:
        meter.set("valve", args.valve)
    return meter


def _control(c: int, function_names: dict[int, str], fn: int) -> str:
    parts = ["reply" if c & 0x80 else "request"]
    if c & 0x40:
        parts.append("ABNORMAL")
    parts.append(function_names.get(fn, f"function 0x{fn:02X}"))
    return ", ".join(parts)


def describe(raw: bytes) -> dict[str, Any]:
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


def control_text(c: int, function_names: dict[int, str], fn: int) -> str:
    """The C byte in words (shared with the DL/T 645 decoder)."""
    return _control(c, function_names, fn)
