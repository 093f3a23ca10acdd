"""Emulated meters: a CJ/T 188 water/gas meter and a DL/T 645-2007 electricity meter.

Each meter turns one request frame into its reply bytes (or ``None`` for silence, as a real
meter not addressed stays quiet). Frames are built and parsed with the firmware codecs
(``nbkit.sense.cjt188`` / ``nbkit.sense.dlt645``), so host and device share one codec.
:class:`Faults` injects line errors into the replies.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from . import bus, cjt188, dlt645

#: fault names accepted by --fault and the control port
FAULTS = ("bad_checksum", "no_reply", "abnormal", "garbage", "truncated")


class Faults:
    """Error injection: each fault is armed for a number of replies (-1 = every reply)."""

    def __init__(self, seed: int = 1) -> None:
        self.armed: dict[str, int] = {}
        self.rng = random.Random(seed)

    def arm(self, name: str, count: int = -1) -> None:
        """Arm `name` for the next `count` replies (-1: until cleared; 0: clear it)."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; choose from {', '.join(FAULTS)}")
        if count == 0:
            self.armed.pop(name, None)
        else:
            self.armed[name] = count

    def clear(self) -> None:
        """Disarm every fault."""
        self.armed.clear()

    def take(self, name: str) -> bool:
        """True when `name` applies to this reply (and count it down)."""
        left = self.armed.get(name)
        if left is None:
            return False
        if left > 0:
            if left == 1:
                del self.armed[name]
            else:
                self.armed[name] = left - 1
        return True

    def apply(self, reply: bytes | None) -> bytes | None:
        """The bytes actually put on the line for `reply`."""
        if reply is None or self.take("no_reply"):
            return None
        if self.take("bad_checksum"):
            body = bytearray(reply)
            body[-2] ^= 0x5A  # the CS byte
            reply = bytes(body)
        if self.take("truncated"):
            reply = reply[: max(1, len(reply) // 2)]
        if self.take("garbage"):
            noise = bytes(self.rng.randrange(256) for _ in range(12))
            # noise, a stray start byte, a frame that breaks off, then the real reply
            reply = noise + b"\x68\x10\x00" + reply[:9] + reply
        return reply


def _bcd_time(now: float) -> tuple[int, int, int, int, int, int]:
    t = time.localtime(now)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


class Cjt188Meter:
    """A CJ/T 188 water or gas meter: current data (0x901F), address, valve."""

    protocol = cjt188.Protocol()

    def __init__(
        self,
        *,
        address: str = "12345678901234",
        meter_type: int = cjt188.TYPE_COLD_WATER,
        total: int = 123456,
        settle: int | None = 120000,
        valve: str = "open",
        battery_low: bool = False,
        now: Callable[[], float] = time.time,
    ) -> None:
        cjt188.address_bytes(address)  # validates
        self.address = address
        self.meter_type = meter_type
        self.total = total  # hundredths of m3
        self.settle = settle
        self.valve = valve
        self.battery_low = battery_low
        self.now = now  # seconds for the meter's clock field (virtual time when given)
        self.abnormal_status = 0x0001
        self.requests = 0

    def status(self) -> int:
        """ST word: D0-D1 valve (00 open, 01 closed), D2 battery low."""
        st = {"open": 0, "closed": 1, "abnormal": 3}[self.valve]
        return st | (0x04 if self.battery_low else 0)

    def state(self) -> dict[str, Any]:
        """The settable registers as JSON-ready values."""
        return {
            "protocol": "cjt188",
            "address": self.address,
            "meter_type": self.meter_type,
            "total": self.total,
            "settle": self.settle,
            "valve": self.valve,
            "battery_low": self.battery_low,
            "requests": self.requests,
        }

    def set(self, key: str, value: Any) -> None:
        """Set one register (control port / command line)."""
        if key == "address":
            cjt188.address_bytes(str(value))
            self.address = str(value)
        elif key in ("total", "settle", "meter_type"):
            setattr(self, key, int(value))
        elif key == "valve":
            if value not in ("open", "closed", "abnormal"):
                raise ValueError("valve must be open, closed or abnormal")
            self.valve = value
        elif key == "battery_low":
            self.battery_low = bool(value)
        else:
            raise ValueError(f"unknown cjt188 register {key!r}")

    def handle(self, raw: bytes, abnormal: bool = False) -> bytes | None:
        """Reply to one request frame (raw, complete); None when not addressed."""
        frame = cjt188.decode(raw)
        if frame.is_reply():
            return None
        if frame.address not in (self.address, cjt188.WILDCARD):
            return None
        if frame.meter_type not in (self.meter_type, cjt188.TYPE_ANY):
            return None
        self.requests += 1
        fn = frame.function()
        di = frame.di if frame.di is not None else 0
        if abnormal or fn not in (cjt188.C_READ_DATA, cjt188.C_READ_ADDR, cjt188.C_WRITE_DATA):
            return self._abnormal(frame)
        if fn == cjt188.C_READ_ADDR and di == cjt188.DI_ADDRESS:
            return self._reply(frame, b"")
        if fn == cjt188.C_READ_DATA and di == cjt188.DI_CURRENT:
            data = cjt188.current_data(
                self.total,
                settle=self.settle,
                clock=_bcd_time(self.now()),
                status=self.status(),
            )
            return self._reply(frame, data)
        if fn == cjt188.C_WRITE_DATA and di == cjt188.DI_VALVE and frame.data:
            cmd = frame.data[0]
            if cmd == cjt188.VALVE_OPEN:
                self.valve = "open"
            elif cmd == cjt188.VALVE_CLOSE:
                self.valve = "closed"
            else:
                return self._abnormal(frame)
            st = self.status()
            return self._reply(frame, bytes((st & 0xFF, st >> 8)))
        return self._abnormal(frame)

    def _reply(self, req: cjt188.Frame, data: bytes) -> bytes:
        return b"\xfe\xfe" + cjt188.encode(
            self.meter_type,
            self.address,
            req.control | cjt188.C_REPLY,
            req.di if req.di is not None else 0,
            req.ser or 0,
            data,
            req.di_lsb_first,
        )

    def _abnormal(self, req: cjt188.Frame) -> bytes:
        # abnormal reply: C | 0xC0, L = 3: SER ST0 ST1 (no DI)
        st = self.abnormal_status | self.status()
        body = bytearray(b"\x68")
        body.append(self.meter_type)
        body.extend(cjt188.address_bytes(self.address))
        body.append(req.control | cjt188.C_REPLY | cjt188.C_ABNORMAL)
        body.extend(bytes((3, req.ser or 0, st & 0xFF, st >> 8)))
        body.append(bus.checksum(body, 0, len(body)))
        body.append(bus.END)
        return b"\xfe\xfe" + bytes(body)


#: register names on the command line / control port -> DL/T 645 DI
DLT_NAMES: dict[str, int] = {
    "combined": dlt645.DI_COMBINED_ACTIVE,
    "forward": dlt645.DI_FORWARD_ACTIVE,
    "reverse": dlt645.DI_REVERSE_ACTIVE,
    "voltage": dlt645.DI_VOLTAGE_A,
    "current": dlt645.DI_CURRENT_A,
    "power": dlt645.DI_ACTIVE_POWER,
    "power_factor": 0x02060000,
    "frequency": 0x02800002,
    "status3": 0x04000503,
}


class Dlt645Meter:
    """A DL/T 645-2007 electricity meter: energy, voltage, current, power, address."""

    protocol = dlt645.Protocol()

    def __init__(self, address: str = "000000000001") -> None:
        dlt645.address_bytes(address, 6)
        self.address = address
        self.error = 0x01  # ERR byte of an injected abnormal reply
        self.requests = 0
        self.registers: dict[int, Any] = {
            dlt645.DI_FORWARD_ACTIVE: 12345678,  # 123456.78 kWh
            dlt645.DI_REVERSE_ACTIVE: 1234,
            dlt645.DI_VOLTAGE_A: 2201,  # 220.1 V
            dlt645.DI_CURRENT_A: 5123,  # 5.123 A
            dlt645.DI_ACTIVE_POWER: 11270,  # 1.1270 kW
            0x02060000: 980,
            0x02800002: 5000,
            0x04000503: 0,
        }
        self._combined()

    def _combined(self) -> None:
        regs = self.registers
        regs[dlt645.DI_COMBINED_ACTIVE] = (
            regs[dlt645.DI_FORWARD_ACTIVE] + regs[dlt645.DI_REVERSE_ACTIVE]
        )

    def state(self) -> dict[str, Any]:
        """The settable registers as JSON-ready values."""
        out: dict[str, Any] = {"protocol": "dlt645", "address": self.address}
        for name, di in DLT_NAMES.items():
            out[name] = self.registers[di]
        out["requests"] = self.requests
        return out

    def set(self, key: str, value: Any) -> None:
        """Set one register by name (forward, reverse, voltage, ...) or address."""
        if key == "address":
            dlt645.address_bytes(str(value), 6)
            self.address = str(value)
            return
        if key not in DLT_NAMES:
            raise ValueError(f"unknown dlt645 register {key!r}; known: {', '.join(DLT_NAMES)}")
        di = DLT_NAMES[key]
        dlt645.encode_value(di, int(value))  # validates range and sign
        self.registers[di] = int(value)
        if key in ("forward", "reverse"):
            self._combined()

    def handle(self, raw: bytes, abnormal: bool = False) -> bytes | None:
        """Reply to one request frame (raw, complete); None when not addressed."""
        frame = dlt645.decode(raw)
        if frame.is_reply():
            return None
        if frame.address not in (self.address, dlt645.WILDCARD):
            return None
        self.requests += 1
        fn = frame.function()
        if abnormal:
            return self._reply(fn | 0xC0, bytes((self.error,)))
        if fn == dlt645.C_READ_ADDR:
            return self._reply(0x93, dlt645.address_bytes(self.address, 6))
        if fn == dlt645.C_READ and frame.di is not None:
            if frame.di in (0x04000401, 0x04000402):
                value = dlt645.address_bytes(self.address, 6)
                return self._reply(0x91, dlt645.di_bytes(frame.di) + value)
            if frame.di not in self.registers:
                return self._reply(0xD1, b"\x02")  # no data requested
            value = dlt645.encode_value(frame.di, self.registers[frame.di])
            return self._reply(0x91, dlt645.di_bytes(frame.di) + value)
        return self._reply(fn | 0xC0, b"\x01")

    def _reply(self, control: int, data: bytes) -> bytes:
        return b"\xfe\xfe\xfe\xfe" + dlt645.encode(self.address, control, data)
