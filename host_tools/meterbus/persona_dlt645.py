"""DL/T 645 on the host: the emulated electricity meter and `nbkit meter decode dlt645`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from . import bus, dlt645, names
from .meters import Dlt645Meter as Persona
from .persona_cjt188 import control_text as _control

__all__ = ["ANSWER_DELAY_S", "METER_TYPES", "Persona", "build", "describe"]

#: the meter's answer delay on the bus, the slowest DL/T 645-2007 allows: "response delay
#: after a command frame Td: 20 ms <= Td <= 500 ms; pause between bytes Tb <= 500 ms" (5.3.3)
ANSWER_DELAY_S = 0.5

METER_TYPES: dict[str, int] = {}  #: --meter-type choices (none: an electricity meter)


def build(args: argparse.Namespace, now: Callable[[], float]) -> Persona:
    """The emulated meter of `nbkit meterbus --protocol dlt645`."""
    if args.meter_type:
        raise ValueError(f"--meter-type {args.meter_type}: a DL/T 645 meter has no type")
    return Persona()


def describe(raw: bytes) -> dict[str, Any]:
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
