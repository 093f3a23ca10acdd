"""`nbkit timers encode|decode`: 3GPP PSM/eDRX timer bit strings <-> durations.

Uses the firmware's own codec (``nbkit.lte.timers``), so the host and the device agree::

    nbkit timers decode --t3412 01000111          # T3412 01000111 = 70 h
    nbkit timers encode --t3324 45s               # 00010111 = 46 s (rounded up from 45 s)
    nbkit timers encode --edrx 60 --ptw 10 --act nb
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from nbkit.lte import timers  # type: ignore[import-not-found,unused-ignore]

from host_tools.errors import CommandError

_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")
_OFF = ("off", "none", "deactivated")
_ACTS = {"nb": timers.ACT_NB_S1, "wb": timers.ACT_WB_S1}
_NAMES = {
    "t3412": "T3412 (periodic TAU)",
    "t3324": "T3324 (active time)",
    "edrx": "eDRX cycle",
    "ptw": "PTW (paging time window)",
}


def parse_duration(text: str) -> float | None:
    """'45s', '4min', '70h', '1.5h', '20.48' (seconds) -> seconds; 'off' -> None."""
    if text.strip().lower() in _OFF:
        return None
    match = _DURATION.match(text.lower())
    if not match or match.group(2) not in _UNITS:
        raise CommandError(
            f"cannot read duration {text!r}: use a number with s, min, h or d (e.g. 45s, 70h)"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def human(seconds: float | None) -> str:
    """70 h, 70 min, 46 s, 20.48 s; None -> deactivated."""
    if seconds is None:
        return "deactivated"
    if seconds and seconds == int(seconds):
        whole = int(seconds)
        if whole % 3600 == 0:
            return f"{whole // 3600} h"
        if whole % 60 == 0:
            return f"{whole // 60} min"
        return f"{whole} s"
    return f"{seconds:g} s"


def _decode(kind: str, bits: str, act: int) -> dict[str, Any]:
    row: dict[str, Any] = {"timer": kind, "bits": bits}
    if kind == "t3412":
        row["seconds"] = timers.decode_t3412(bits)
    elif kind == "t3324":
        row["seconds"] = timers.decode_t3324(bits)
    elif kind == "edrx":
        ms = timers.decode_edrx_ms(bits, act)
        row["seconds"] = None if ms is None else ms / 1000
        row["read_as"] = timers.edrx_read_as(bits, act)
    else:
        row["seconds"] = timers.decode_ptw_ms(bits, act) / 1000
    return row


def _encode(kind: str, text: str, act: int) -> dict[str, Any]:
    want = parse_duration(text)
    if want is None and kind in ("edrx", "ptw"):
        raise CommandError(f"{kind} has no 'off' value: turn eDRX off with AT+CEDRXS=0,<AcT>")
    got: float | None
    if kind == "t3412":
        bits, got = timers.encode_t3412(want)
    elif kind == "t3324":
        bits, got = timers.encode_t3324(want)
    elif kind == "edrx":
        bits, ms = timers.encode_edrx(want, act)
        got = ms / 1000
    else:
        bits, ms = timers.encode_ptw(want, act)
        got = ms / 1000
    return {"timer": kind, "requested_seconds": want, "bits": bits, "seconds": got}


def _line(row: dict[str, Any], encode: bool) -> str:
    name = _NAMES[row["timer"]]
    text = f"{name}: {row['bits']} = {human(row['seconds'])}"
    if encode:
        want = row["requested_seconds"]
        if want is not None and row["seconds"] != want:
            text += f" (rounded up from {human(want)})"
    elif row.get("read_as") and row["read_as"] != row["bits"]:
        text += f" (the network reads it as {row['read_as']})"
    elif row["timer"] == "edrx" and row["seconds"] is None:
        text = f"{name}: {row['bits']} = not allowed (eDRX treated as not used)"
    return text


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Encode durations into the 3GPP bit strings of AT+CPSMS/AT+CEDRXS/AT+NPTWEDRXS, or "
        "decode the bit strings of +CEREG/+CPSMS/+CEDRXP. Encoding rounds UP to the nearest "
        "encodable value and prints the value actually obtained."
    )
    parser.add_argument("action", choices=("encode", "decode"), help="direction")
    for kind in ("t3412", "t3324", "edrx", "ptw"):
        parser.add_argument(
            f"--{kind}",
            metavar="VALUE",
            help=f"{_NAMES[kind]}: bits to decode, or a duration to encode (45s, 4min, 70h"
            + (", off)" if kind in ("t3412", "t3324") else ")"),
        )
    parser.add_argument(
        "--act",
        choices=sorted(_ACTS),
        default="nb",
        help="radio for eDRX/PTW tables: nb = NB-S1 (NB-IoT, default), wb = WB-S1 (Cat-M/Cat1)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of text")


def run(args: argparse.Namespace) -> int:
    act = _ACTS[args.act]
    asked = [(k, getattr(args, k)) for k in ("t3412", "t3324", "edrx", "ptw")]
    asked = [(k, v) for k, v in asked if v is not None]
    if not asked:
        raise CommandError("give at least one of --t3412, --t3324, --edrx, --ptw")
    encode = args.action == "encode"
    rows = []
    for kind, value in asked:
        try:
            rows.append(_encode(kind, value, act) if encode else _decode(kind, value, act))
        except ValueError as exc:
            raise CommandError(f"{kind}: {exc}") from exc
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
    else:
        for row in rows:
            print(_line(row, encode))
    return 0
