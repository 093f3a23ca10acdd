# CJ/T 188-2004 (water / gas / heat meters): frame codec and a meter client.
# Frame: [FE..] 68 T A0..A6 C L DI DI SER DATA.. CS 16; address 7 BCD bytes LSB first;
# C bit 7 = reply, bit 6 = abnormal; L counts DI..DATA; CS = sum mod 256 from 0x68.
# Pure: the host tools import this same file (`from nbkit.sense import cjt188`).
try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


from nbkit.sense import bus
from nbkit.sense.bus import FrameError

LEN_AT = const(10)  # offset of L from the 0x68
SECOND_START = -1  # CJ/T 188 has one 0x68
MIN_SIZE = const(13)

# meter types (T)
TYPE_COLD_WATER = const(0x10)
TYPE_HOT_WATER = const(0x11)
TYPE_DRINKING_WATER = const(0x12)
TYPE_RECLAIMED_WATER = const(0x13)
TYPE_HEAT = const(0x20)
TYPE_COOLING = const(0x21)
TYPE_GAS = const(0x30)
TYPE_ANY = const(0xAA)

# control codes (function, low 6 bits) and flags
C_READ_DATA = const(0x01)
C_READ_ADDR = const(0x03)
C_WRITE_DATA = const(0x04)
C_READ_KEY = const(0x09)
C_WRITE_ADDR = const(0x15)
C_WRITE_SYNC = const(0x16)
C_REPLY = const(0x80)
C_ABNORMAL = const(0x40)
C_FUNCTION = const(0x3F)

# data identifiers
DI_CURRENT = const(0x901F)
DI_ADDRESS = const(0x810A)
DI_VALVE = const(0xA017)
DI_SYNC = const(0xA016)
# DIs we know, to tell the byte order of a received DI (names: nbkit.sense.names)
KNOWN_DIS = (0x901F, 0x810A, 0x8102, 0x8103, 0x8104, 0x8105, 0x8106, 0xA016, 0xA017, 0xA018)


def known_di(di):
    return di in KNOWN_DIS or 0xD120 <= di <= 0xD12B


VALVE_OPEN = const(0x55)
VALVE_CLOSE = const(0x99)
VALVE_EXERCISE = const(0xAA)

UNIT_M3 = const(0x2C)

WILDCARD = "AAAAAAAAAAAAAA"

# valve states in ST (after masking/shifting)
VALVE_STATES = {0: "open", 1: "closed", 2: "unknown", 3: "abnormal"}


LAYOUT = bus.layout(LEN_AT, SECOND_START)  # frame descriptor for bus.scan / bus.check


class MeterError(Exception):
    # The meter answered with the abnormal bit set: control, SER and its status word.
    def __init__(self, control, status, ser=None):
        super().__init__("meter reported an error: C=0x%02X status=0x%04X" % (control, status))
        self.control = control
        self.status = status
        self.ser = ser


class StatusMap:
    # Where the valve and battery bits sit in ST (vendor-configurable). ST is read as a 16-bit
    # number, first byte low. Default: D0-D1 valve (00 open, 01 closed, 11 abnormal), D2
    # battery low. xijunzhou's cj188.h uses StatusMap(6, 0x20) (valve 0xC0, battery 0x20).
    def __init__(self, valve_shift=0, battery_mask=0x04):
        self.valve_shift = valve_shift
        self.battery_mask = battery_mask

    def valve(self, st):
        return VALVE_STATES[(st >> self.valve_shift) & 3]

    def battery_low(self, st):
        return bool(st & self.battery_mask)


DEFAULT_STATUS = StatusMap()


def bcd_byte(b):
    hi = b >> 4
    lo = b & 0x0F
    if hi > 9 or lo > 9:
        return -1
    return hi * 10 + lo


def bcd_decode(buf, start, n):
    # n BCD bytes, least significant first -> int, or None when a nibble is not a digit
    # (meters send FF for "no value").
    v = 0
    for i in range(start + n - 1, start - 1, -1):
        d = bcd_byte(buf[i])
        if d < 0:
            return None
        v = v * 100 + d
    return v


def bcd_encode(value, n):
    out = bytearray(n)
    for i in range(n):
        value, r = divmod(value, 100)
        out[i] = (r // 10) << 4 | (r % 10)
    if value:
        raise ValueError("value does not fit in %d BCD bytes" % n)
    return bytes(out)


def address_bytes(address, size=7):
    # "78330123456789" (as printed, most significant first) -> 7 bytes LSB first; the
    # wildcard "AAAAAAAAAAAAAA" -> seven 0xAA.
    address = address.upper()
    if len(address) != size * 2:
        raise ValueError("address must have %d digits" % (size * 2))
    out = bytearray(size)
    for i in range(size):
        out[size - 1 - i] = int(address[2 * i : 2 * i + 2], 16)
    return bytes(out)


def address_str(raw):
    return "".join("%02X" % raw[i] for i in range(len(raw) - 1, -1, -1))


class Frame:
    # A decoded CJ/T 188 frame. data = the bytes after SER (DI and SER are split out).
    def __init__(self, meter_type, address, control, di, ser, data, di_lsb_first=True):  # noqa: PLR0917
        self.meter_type = meter_type
        self.address = address
        self.control = control
        self.di = di
        self.ser = ser
        self.data = data
        self.di_lsb_first = di_lsb_first

    def is_reply(self):
        return bool(self.control & C_REPLY)

    def is_abnormal(self):
        return bool(self.control & C_ABNORMAL)

    def function(self):
        return self.control & C_FUNCTION

    def __repr__(self):
        return "<cjt188 T=%02X addr=%s C=%02X DI=%04X SER=%02X data=%s>" % (
            self.meter_type,
            self.address,
            self.control,
            self.di if self.di is not None else 0,
            self.ser if self.ser is not None else 0,
            "".join("%02X" % b for b in self.data),
        )


def encode(meter_type, address, control, di, ser, data=b"", di_lsb_first=True):  # noqa: PLR0917
    # One frame without wake-up bytes. address: the printed digit string (or WILDCARD).
    lo = di & 0xFF
    hi = di >> 8
    body = bytearray(b"\x68")
    body.append(meter_type)
    body.extend(address_bytes(address))
    body.append(control)
    body.append(3 + len(data))
    body.extend(bytes((lo, hi)) if di_lsb_first else bytes((hi, lo)))
    body.append(ser & 0xFF)
    body.extend(data)
    body.append(bus.checksum(body, 0, len(body)))
    body.append(bus.END)
    return bytes(body)


def _di_of(b0, b1, expect=None):
    # DI byte order differs in the wild: accept both. Returns (di, lsb_first).
    lsb = b1 << 8 | b0
    msb = b0 << 8 | b1
    if expect is not None:
        if lsb == expect:
            return lsb, True
        if msb == expect:
            return msb, False
    if known_di(lsb):
        return lsb, True
    if known_di(msb):
        return msb, False
    return lsb, True


def decode(raw, expect_di=None):
    # raw: one whole captured frame (FE bytes allowed before it). Raises FrameError.
    start = bus.skip_wake(raw)
    if start < 0:
        raise FrameError(bus.NO_START)
    size = bus.check(raw, start, LAYOUT, complete=True)
    return _fields(raw[start : start + size], expect_di)


def _fields(f, expect_di=None):
    n = f[LEN_AT]
    control = f[9]
    payload = f[11 : 11 + n]
    address = address_str(f[2:9])
    if control & C_ABNORMAL and n == 3:
        # abnormal reply without DI: SER ST0 ST1
        return Frame(f[1], address, control, None, payload[0], payload[1:])
    if n < 3:
        if n == 0:
            return Frame(f[1], address, control, None, None, b"")
        raise FrameError(bus.BAD_LENGTH, "L=%d: DI and SER need 3 bytes" % n)
    di, lsb = _di_of(payload[0], payload[1], expect_di)
    return Frame(f[1], address, control, di, payload[2], bytes(payload[3:]), lsb)


class Protocol:
    # What bus.Bus needs to find and decode CJ/T 188 frames in a byte stream.
    layouts = (LAYOUT,)
    wake = None  # the Bus default: FE FE FE FE

    def __init__(self, expect_di=None):
        self.expect_di = expect_di

    def decode(self, raw):
        return _fields(raw, self.expect_di)


def raise_if_abnormal(frame):
    if frame.is_abnormal():
        d = frame.data
        st = d[0] | d[1] << 8 if len(d) >= 2 else (d[0] if d else 0)
        raise MeterError(frame.control, st, frame.ser)


class Reading:
    # 0x901F current data: volumes in hundredths of their unit (no floats on the device).
    def __init__(self, total, unit, settle, settle_unit, clock, status, status_map):  # noqa: PLR0917
        self.total = total  # cumulative flow x100 (None when the meter sends FF)
        self.unit = unit
        self.settle = settle
        self.settle_unit = settle_unit
        self.clock = clock  # (year, month, day, hour, minute, second) or None
        self.status = status
        self.valve = status_map.valve(status)
        self.battery_low = status_map.battery_low(status)

    def unit_name(self):
        from nbkit.sense.names import unit_name

        return unit_name(self.unit)

    def __repr__(self):
        return "<reading %s %s valve=%s battery_low=%s ST=%04X>" % (
            fixed2(self.total),
            self.unit_name(),
            self.valve,
            self.battery_low,
            self.status,
        )


def fixed2(v):
    # hundredths -> "1234.56" without floats; None -> "--"
    if v is None:
        return "--"
    return "%d.%02d" % (v // 100, v % 100)


def parse_current(data, status_map=DEFAULT_STATUS):
    # data after SER of a 0x901F reply (water/gas layout, 19 bytes).
    if len(data) < 19:
        raise FrameError(bus.BAD_LENGTH, "0x901F data has %d bytes, needs 19" % len(data))
    total = bcd_decode(data, 0, 4)
    settle = bcd_decode(data, 5, 4)
    t = [bcd_decode(data, 10 + i, 1) for i in range(7)]
    clock = None
    if None not in t:
        clock = (t[6] * 100 + t[5], t[4], t[3], t[2], t[1], t[0])
    status = data[17] | data[18] << 8
    return Reading(total, data[4], settle, data[9], clock, status, status_map)


def current_data(total, unit=UNIT_M3, settle=None, clock=None, status=0):
    # Builds the 19 data bytes of a 0x901F reply (used by the emulator and in tests).
    out = bytearray(bcd_encode(total, 4))
    out.append(unit)
    out.extend(b"\xff" * 4 if settle is None else bcd_encode(settle, 4))
    out.append(unit)
    if clock is None:
        out.extend(b"\xff" * 7)
    else:
        y, mo, d, h, mi, s = clock
        for v in (s, mi, h, d, mo, y % 100, y // 100):
            out.extend(bcd_encode(v, 1))
    out.append(status & 0xFF)
    out.append(status >> 8)
    return bytes(out)


class Meter:
    # A CJ/T 188 meter on a bus.Bus: read_address, read, valve.
    def __init__(self, link, address=WILDCARD, meter_type=TYPE_COLD_WATER, di_lsb_first=True):
        self.link = link
        self.address = address
        self.meter_type = meter_type
        self.di_lsb_first = di_lsb_first
        self.status_map = DEFAULT_STATUS
        self.ser = 0

    def _request(self, control, di, data=b"", meter_type=None):
        self.ser = (self.ser + 1) & 0xFF
        ser = self.ser
        t = self.meter_type if meter_type is None else meter_type
        req = encode(t, self.address, control, di, ser, data, self.di_lsb_first)
        want = control | C_REPLY
        wild = self.address == WILDCARD

        def accept(f):
            if not f.is_reply() or (f.control & ~C_ABNORMAL) != want:
                return False
            return wild or f.address == self.address

        frame = self.link.exchange(req, Protocol(di), accept)
        raise_if_abnormal(frame)
        return frame

    def read_address(self):
        # The AA wildcard address: only one meter may be on the bus.
        saved = self.address
        self.address = WILDCARD
        try:
            frame = self._request(C_READ_ADDR, DI_ADDRESS, meter_type=TYPE_ANY)
        finally:
            self.address = saved
        self.meter_type = frame.meter_type
        self.address = frame.address
        return frame.address

    def read(self):
        frame = self._request(C_READ_DATA, DI_CURRENT)
        return parse_current(frame.data, self.status_map)

    def valve(self, open_):
        # Opens or closes the valve; returns the valve state from the reply's ST.
        cmd = VALVE_OPEN if open_ else VALVE_CLOSE
        frame = self._request(C_WRITE_DATA, DI_VALVE, bytes((cmd,)))
        d = frame.data
        st = d[0] | d[1] << 8 if len(d) >= 2 else 0
        return self.status_map.valve(st)
