"""M-Bus on the host: an emulated heat (or water) meter and `nbkit meter decode mbus`.

The persona answers as an EN 13757-2 slave: SND_NKE and a matching secondary selection (CI 0x52,
F-nibble and FF wildcards) get E5; REQ_UD2 to its primary address, to 0xFE or (once selected)
to 0xFD gets an RSP_UD; broadcasts (0xFF) get nothing. A readout is two telegrams: the first
ends with DIF 0x1F (more records follow), the second comes on the next REQ_UD2 with a toggled
FCB; the same FCB again repeats the last telegram (a lost reply); SND_NKE starts over.
Frames are built and parsed with the firmware codec (nbkit.sense.mbus / mbus_data).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from . import mbus, mbus_build, mbus_data

__all__ = ["ANSWER_DELAY_S", "MEDIUMS", "METER_TYPES", "Persona", "build", "describe"]

#: the slave's answer delay, the slowest EN 13757-2 allows: between 11 bit times and 330 bit
#: times + 50 ms after the master's telegram (the EN 60870-5-1 time structure it refers to);
#: at 2400 baud 330 / 2400 + 0.050 s
ANSWER_DELAY_S = 330 / 2400 + 0.050

#: --meter-type choices -> medium
METER_TYPES = {"heat": 0x04, "water": 0x07, "hot-water": 0x06}

MEDIUMS = {
    0x00: "other",
    0x01: "oil",
    0x02: "electricity",
    0x03: "gas",
    0x04: "heat (outlet)",
    0x05: "steam",
    0x06: "warm water",
    0x07: "water",
    0x08: "heat cost allocator",
    0x09: "compressed air",
    0x0A: "cooling (outlet)",
    0x0B: "cooling (inlet)",
    0x0C: "heat (inlet)",
    0x0D: "heat / cooling",
    0x0E: "bus / system",
    0x0F: "unknown",
    0x15: "hot water",
    0x16: "cold water",
    0x17: "dual water",
    0x18: "pressure",
    0x19: "A/D converter",
}
FUNCTIONS = ("instantaneous", "maximum", "minimum", "error")
_C_NAMES = {0x40: "SND_NKE", 0x53: "SND_UD", 0x5B: "REQ_UD2", 0x5A: "REQ_UD1", 0x08: "RSP_UD"}

#: settable registers (command line --set / control port) and their units
REGISTERS = {
    "energy": "Wh (sent as 0.1 kWh, 8-digit BCD)",
    "volume": "L (8-digit BCD)",
    "power": "W (32-bit binary)",
    "flow": "L/h (32-bit binary)",
    "flow_temp": "0.01 C",
    "return_temp": "0.01 C",
    "energy_last": "Wh, storage 1 (billing date)",
    "error_flags": "bits",
}


class Persona:
    """An M-Bus heat meter (medium 0x04) or water meter (0x07) at one primary address."""

    protocol = mbus.Protocol()

    def __init__(
        self,
        *,
        address: int = 1,
        ident: str = "12345678",
        man: str = "NBK",
        medium: int = 0x04,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.primary = address
        self.ident = ident
        self.man = man
        self.medium = medium
        self.version = 1
        self.now = now
        self.regs: dict[str, int] = {
            "energy": 12_345_600,
            "volume": 456_789,
            "power": 1500,
            "flow": 320,
            "flow_temp": 6512,
            "return_temp": 4230,
            "energy_last": 12_000_000,
            "error_flags": 0,
        }
        self.selected = False
        self.access = 0
        self.requests = 0
        self._reset()

    def _reset(self) -> None:
        self.next_telegram = 0
        self.last_fcb: bool | None = None
        self.last_reply: bytes | None = None

    def state(self) -> dict[str, Any]:
        """The settable registers as JSON-ready values."""
        return {
            "protocol": "mbus",
            "address": self.primary,
            "ident": self.ident,
            "manufacturer": self.man,
            "medium": self.medium,
            **self.regs,
            "selected": self.selected,
            "requests": self.requests,
        }

    def set(self, key: str, value: Any) -> None:
        """Set one register, the primary address or the 8-digit ident."""
        if key == "address":
            if not 0 <= int(value) <= 250:
                raise ValueError("an M-Bus primary address is 0-250")
            self.primary = int(value)
        elif key == "ident":
            if len(str(value)) != 8 or not str(value).isdigit():
                raise ValueError("an M-Bus ident has 8 digits")
            self.ident = str(value)
        elif key in self.regs:
            self.regs[key] = int(value)
        else:
            raise ValueError(f"unknown mbus register {key!r}; known: {', '.join(REGISTERS)}")

    def handle(self, raw: bytes, abnormal: bool = False) -> bytes | None:
        """Reply to one request frame (raw, complete); None when silent."""
        f = mbus.decode(raw)
        if f.c is None or f.c & 0x4F == mbus.RSP_UD:
            return None  # an E5 or another slave's reply
        if f.c == mbus.SND_UD and f.a == mbus.ADDR_SELECTED and f.ci == mbus.CI_SELECT:
            return self._select(f.data)
        if not self._addressed(f.a):
            return None
        self.requests += 1
        if f.c == mbus.SND_NKE:
            if f.a == mbus.ADDR_SELECTED:
                self.selected = False
            self._reset()
            return None if f.a == mbus.ADDR_BROADCAST else bytes((mbus.ACK,))
        if f.c & ~mbus.FCB == mbus.REQ_UD2 and f.a != mbus.ADDR_BROADCAST:
            return self._rsp_ud(bool(f.c & mbus.FCB), abnormal)
        return None

    def _addressed(self, a: int | None) -> bool:
        if a == mbus.ADDR_SELECTED:
            return self.selected
        return a in (self.primary, mbus.ADDR_TEST, mbus.ADDR_BROADCAST)

    def _select(self, pattern: bytes) -> bytes | None:
        if len(pattern) != 8:
            return None
        ident_raw = mbus_build.bcd(int(self.ident), 4)
        man = mbus_build.manufacturer_code(self.man)
        self.selected = mbus_build.selects(pattern, ident_raw, man, self.version, self.medium)
        if self.selected:
            self._reset()
            return bytes((mbus.ACK,))
        return None

    def _rsp_ud(self, fcb: bool, abnormal: bool) -> bytes:
        if self.last_reply is not None and fcb == self.last_fcb:
            return self.last_reply  # the master missed it: the same telegram again
        self.last_fcb = fcb
        k = self.next_telegram
        more = k == 0
        self.next_telegram = 1 if more else 0
        self.access = (self.access + 1) & 0xFF
        status = 0x02 if abnormal else 0x00  # "application busy" / "any application error"
        header = mbus_build.long_header(
            self.ident, self.man, self.version, self.medium, self.access, status
        )
        body = self._telegram1() if more else self._telegram2()
        c = mbus.RSP_UD
        a = self.primary
        reply = mbus.long_frame(c, a, mbus.CI_LONG, header + body)
        self.last_reply = reply
        return reply

    def _telegram1(self) -> bytes:
        r, le, bcd = mbus_build.record, mbus_build.le, mbus_build.bcd
        t = time.gmtime(self.now())
        g = self.regs
        return b"".join(
            (
                r(0x0C, 0x05, bcd(g["energy"] // 100, 4)),  # energy, 0.1 kWh, BCD
                r(0x0C, 0x13, bcd(g["volume"], 4)),  # volume, L, BCD
                r(0x04, 0x2B, le(g["power"], 4)),  # power, W
                r(0x04, 0x3B, le(g["flow"], 4)),  # volume flow, L/h
                r(0x02, 0x59, le(g["flow_temp"], 2)),  # flow temperature, 0.01 C
                r(0x02, 0x5D, le(g["return_temp"], 2)),  # return temperature, 0.01 C
                r(0x02, 0x61, le(g["flow_temp"] - g["return_temp"], 2)),  # difference, 0.01 K
                r(
                    0x04,
                    0x6D,
                    mbus_build.date_f(t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min),
                ),
                b"\x1f",  # more records follow in the next telegram
            )
        )

    def _telegram2(self) -> bytes:
        r, le, bcd = mbus_build.record, mbus_build.le, mbus_build.bcd
        g = self.regs
        return b"".join(
            (
                r(0x4C, 0x05, bcd(g["energy_last"] // 100, 4)),  # storage 1 energy
                r(0x42, 0x6C, mbus_build.date_g(2025, 12, 31)),  # storage 1 date (type G)
                r(0x8C, 0x05, bcd(g["energy"] // 200, 4), dife=b"\x10"),  # tariff 1 energy
                r(0x14, 0x2B, le(g["power"] * 2, 4)),  # maximum power
                r(0x02, 0x22, le(8760, 2)),  # on time, hours
                r(0x01, 0xFD, le(g["error_flags"], 1), vifes=b"\x17"),  # error flags
                r(0x0C, 0x78, bcd(int(self.ident), 4)),  # fabrication number
                b"\x0f\x01\x02\x03",  # manufacturer-specific data
            )
        )


def build(args: argparse.Namespace, now: Callable[[], float]) -> Persona:
    """The emulated meter of `nbkit meterbus --protocol mbus` (--meter-type, --ident)."""
    kind = args.meter_type or "heat"
    if kind not in METER_TYPES:
        raise ValueError(f"--meter-type {kind}: an M-Bus meter is heat, water or hot-water")
    meter = Persona(medium=METER_TYPES[kind], now=now)
    if args.ident:
        meter.set("ident", args.ident)
    return meter


def _number(value: int, exp: int) -> str:
    """value * 10**exp as an exact decimal string."""
    if exp >= 0:
        return str(value * 10**exp)
    sign = "-" if value < 0 else ""
    digits = str(abs(value)).rjust(-exp + 1, "0")
    return f"{sign}{digits[:exp]}.{digits[exp:]}"


def value_text(r: mbus_data.Record) -> str:
    """A record's value as people read it (scaled integer, date, text, float)."""
    v = r.value
    if isinstance(v, tuple):
        if len(v) == 3:
            return "%04d-%02d-%02d" % v
        return "%04d-%02d-%02d %02d:%02d" % v[:5] + (":%02d" % v[5] if len(v) > 5 else "")
    if isinstance(v, bool) or v is None:
        return "--"
    if isinstance(v, int):
        return _number(v, r.exp)
    if isinstance(v, float):
        return f"{v * 10**r.exp:g}"
    return str(v)


def record_fields(r: mbus_data.Record) -> dict[str, Any]:
    """One record as a JSON-ready dict."""
    out: dict[str, Any] = {
        "at": r.at,
        "quantity": r.quantity,
        "value": value_text(r),
        "unit": r.unit,
        "storage": r.storage,
        "tariff": r.tariff,
        "subunit": r.subunit,
        "function": FUNCTIONS[r.function],
        "dif": f"0x{r.dif:02X}",
        "vif": f"0x{r.vif:02X}" + (" " + r.vifes.hex(" ").upper() if r.vifes else ""),
    }
    return out


def describe(raw: bytes) -> dict[str, Any]:
    """Field dictionary of one M-Bus frame (raises FrameError naming the byte or field)."""
    f = mbus.decode(raw)
    if f.c is None:
        return {"protocol": "M-Bus EN 13757-2", "frame": "E5 single character (acknowledge)"}
    kind = "short frame" if f.ci is None else "long frame"
    fn = f.c & 0x4F if f.c & 0x4F == mbus.RSP_UD else f.c & ~mbus.FCB
    c_text = _C_NAMES.get(fn, "function")
    if f.c & 0x4F != mbus.RSP_UD and f.c & mbus.FCV:
        c_text += f" FCB={1 if f.c & mbus.FCB else 0}"
    out: dict[str, Any] = {
        "protocol": "M-Bus EN 13757-2/-3",
        "frame": kind,
        "control": f"0x{f.c:02X} {c_text}",
        "address": _address_text(f.a),
    }
    if f.ci is None:
        return out
    out["ci"] = f"0x{f.ci:02X}"
    if f.ci == mbus.CI_SELECT and len(f.data) == 8:
        d = f.data
        out["selection"] = {
            "ident": mbus_data.bcd_str(d, 0, 4),
            "manufacturer": f"0x{d[4] | d[5] << 8:04X}",
            "version": f"0x{d[6]:02X}",
            "medium": f"0x{d[7]:02X}",
        }
        return out
    if not f.is_rsp_ud():
        out["data"] = f.data.hex(" ").upper()
        return out
    t = mbus_data.parse(f)
    if t.header is not None:
        h = t.header
        out["header"] = {
            "ident": h.ident or "(short header: see the address)",
            "manufacturer": h.man or "",
            "version": h.version,
            "medium": ""
            if h.medium is None
            else f"0x{h.medium:02X} {MEDIUMS.get(h.medium, 'reserved')}",
            "access_no": h.access,
            "status": f"0x{h.status:02X}",
            "signature": f"0x{h.signature:04X}",
        }
    out["records"] = [record_fields(r) for r in t.records]
    if t.mdata:
        out["manufacturer_data"] = t.mdata.hex(" ").upper()
    out["more_records_follow"] = t.more
    return out


def _address_text(a: int | None) -> str:
    special = {0xFD: "selected slave", 0xFE: "any slave (test)", 0xFF: "broadcast"}
    return f"{a} " + (f"({special[a]})" if a in special else "(primary)")
