# Meters read over the meter bus (a second UART) at every sample: the same read() -> [(code,
# value)] and state()/restore() interface as the pulse counter, so app.meter.MeterApp queues what
# they return. The meter's address is found once with the wildcard (one meter per bus) and kept
# in the app state across deep sleep. A read that fails is not a crash: it becomes a
# codes.METER_ERROR record (1 no reply, 2 abnormal reply, 3 bad frame), so the collector sees a
# silent or broken meter instead of a gap. Which adapter a meter-bus device profile uses is
# app.wiring's choice from the profile registry (nbkit.profiles). Each adapter imports its own
# codec only, so a device holds one protocol's code in its heap.
import gc

from micropython import const

from nbkit.proto import codes
from nbkit.sense import bus

ADDR_TEST = const(0xFE)  # M-Bus: "the one slave on the bus" (nbkit.sense.mbus.ADDR_TEST)
NO_REPLY = const(1)
ABNORMAL = const(2)
BAD_FRAME = const(3)

_VALVES = {"open": 0, "closed": 1, "unknown": 2, "abnormal": 3}


def _error_code(exc):
    if isinstance(exc, bus.FrameError):
        return BAD_FRAME
    return NO_REPLY  # bus.MeterTimeout (an OSError)


class _BusMeter:
    def __init__(self, meter, log=None, wildcard=None, refusal=None):  # noqa: PLR0917
        self.meter = meter
        self.log = log
        self.errors = 0
        self.wildcard = wildcard  # the address that means "not discovered yet"
        self.refusal = refusal  # the codec's "meter answered abnormally" exception

    def state(self):
        return (self.meter.address,)

    def restore(self, state):
        if state and state[0]:
            self.meter.address = state[0]

    def read(self):
        try:
            if self.meter.address == self.wildcard:
                self._discover()
            return self._read()
        except (OSError, ValueError) as exc:  # MeterTimeout (OSError), FrameError (ValueError)
            return self._failed(exc, _error_code(exc))
        except Exception as exc:
            if self.refusal is None or not isinstance(exc, self.refusal):
                raise
            return self._failed(exc, ABNORMAL)

    def _failed(self, exc, code):
        self.errors += 1
        if self.log:
            self.log("meter bus:", exc)
        return [(codes.METER_ERROR, code)]

    def _read(self):  # -> [(code, value)]: each meter kind says what it reads
        raise NotImplementedError

    def _discover(self):
        address = self.meter.read_address()
        if self.log:
            self.log("meter address", address)


class Cjt188Meter(_BusMeter):
    # A CJ/T 188 water or gas meter: total volume in litres (GAS_L for a gas meter, WATER_L
    # otherwise) and the valve state from the status word.
    def __init__(self, transport, clock, meter_type=0x30, log=None):  # 0x30: CJ/T 188 gas
        from nbkit.sense import cjt188

        link = bus.Bus(transport, clock)
        meter = cjt188.Meter(link, meter_type=meter_type)
        super().__init__(meter, log, cjt188.WILDCARD, cjt188.MeterError)

    def state(self):
        return (self.meter.address, self.meter.meter_type)

    def restore(self, state):
        if len(state) >= 2 and state[0]:
            self.meter.address, self.meter.meter_type = state[0], state[1]

    def _read(self):
        r = self.meter.read()
        code = codes.GAS_L if self.meter.meter_type == 0x30 else codes.WATER_L  # TYPE_GAS
        out = []
        litres = to_litres(r.total, r.unit)
        if litres is not None:
            out.append((code, litres))
        out.append((codes.VALVE, _VALVES.get(r.valve, 2)))
        return out


def to_litres(total, unit):
    # hundredths of the meter's unit -> whole litres (None: no value, or not a volume unit)
    if total is None:
        return None
    if unit == 0x2C:  # m3: 0.01 m3 = 10 L
        return total * 10
    if unit == 0x29:  # L: hundredths of a litre
        return total // 100
    return None


class Dlt645Meter(_BusMeter):
    # A DL/T 645-2007 electricity meter: combined, forward and reverse active energy in Wh.
    def __init__(self, transport, clock, log=None):
        from nbkit.sense import dlt645

        link = bus.Bus(transport, clock)
        super().__init__(dlt645.Meter(link), log, dlt645.WILDCARD, dlt645.MeterError)

    def _read(self):
        combined, forward, reverse = self.meter.energy()  # 0.01 kWh = 10 Wh
        out = []
        for code, value in (
            (codes.ENERGY_WH, combined),
            (codes.ENERGY_FWD_WH, forward),
            (codes.ENERGY_REV_WH, reverse),
        ):
            if value is not None:
                out.append((code, value * 10))
        return out


class MbusMeter(_BusMeter):
    # An EN 13757 M-Bus heat (or water) meter: the current (storage 0, tariff 0, instantaneous)
    # energy, volume and flow/return temperatures of one multi-telegram readout (the billing
    # values; instantaneous power and flow would triple the queue of a 4-hour report).
    # The codec is loaded for each read and released before the report: the uplink of a full
    # queue needs that heap (see `nbkit bench --suite firmware-size`).
    def __init__(self, transport, clock, log=None):
        super().__init__(_Address(ADDR_TEST), log, ADDR_TEST)
        self.transport = transport
        self.clock = clock

    def restore(self, state):
        if state and isinstance(state[0], int) and 0 <= state[0] <= 250:
            self.meter.address = state[0]

    def read(self):
        from nbkit.sense import mbus

        address = self.meter.address
        self.meter = mbus.Meter(bus.Bus(self.transport, self.clock), address)
        try:
            return _BusMeter.read(self)
        finally:
            self.meter = _Address(self.meter.address)
            _release(("mbus", "mbus_data", "mbus_vif"))

    def _read(self):
        header, records = self.meter.read(_current)
        out = []
        seen = set()
        for r in records:
            code, exp = _MBUS_CODES[r.quantity]
            v = r.scaled(exp)
            if r.unit == "J":
                v = r.scaled(0) // 3600  # J -> Wh
            if v is not None and code not in seen:  # the first of each quantity
                seen.add(code)
                out.append((code, v))
        if header is not None and header.status & 3:  # application busy / error
            out.append((codes.METER_ERROR, ABNORMAL))
        return out


class _Address:
    # what an unloaded M-Bus client leaves behind: its address
    def __init__(self, address):
        self.address = address


def _release(names):
    # Drops codec modules (and the package's references to them) so gc can take their code.
    import sys

    import nbkit.sense as pkg

    for name in names:
        sys.modules.pop("nbkit.sense." + name, None)
        if name in pkg.__dict__:
            delattr(pkg, name)
    gc.collect()


# M-Bus quantity -> (record code, decimal exponent of the code's unit)
_MBUS_CODES = {
    "energy": (codes.ENERGY_WH, 0),
    "volume": (codes.WATER_L, -3),
    "flow temperature": (codes.TEMP_CC, -2),
    "return temperature": (codes.TEMP_RETURN_CC, -2),
}


def _current(r):
    return (
        r.quantity in _MBUS_CODES
        and not (r.storage or r.tariff or r.subunit or r.function)
        and r.unit in ("Wh", "J", "m3", "C")
    )


# device profile -> its meter-bus adapter (profiles without one are not meter-bus devices)


def wire(board, profile, bus, medium, clock, *, log):
    # The meter-bus meter `profile` names (nbkit.profiles: bus protocol, medium), on the
    # board's meter bus (app.wiring). ValueError when the board has none.
    transport = board.meterbus() if hasattr(board, "meterbus") else None
    if transport is None:
        raise ValueError("profile %s needs a meter bus (board data 'meterbus')" % profile)
    if bus == "cjt188":
        from nbkit.sense import cjt188

        kind = cjt188.TYPE_GAS if medium == "gas" else cjt188.TYPE_COLD_WATER
        return Cjt188Meter(transport, clock, meter_type=kind, log=log)
    if bus == "dlt645":
        return Dlt645Meter(transport, clock, log=log)
    if bus == "mbus":
        return MbusMeter(transport, clock, log=log)
    raise ValueError("profile %s: no meter for bus protocol %s" % (profile, bus))
