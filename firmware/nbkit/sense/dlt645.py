# DL/T 645-2007 (electricity meters): frame codec and a meter client.
# Frame: [FE FE FE FE] 68 A0..A5 68 C L DATA.. CS 16; address 6 BCD bytes LSB first; every
# DATA byte is sent +0x33 (mod 256); DI is 4 bytes, DI0 first; C bit 7 = reply, bit 6 =
# abnormal, bit 5 = follow-up frame. Pure: the host tools import this same file.
try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


from nbkit.sense import bus
from nbkit.sense.bus import FrameError
from nbkit.sense.cjt188 import address_bytes, address_str, bcd_decode, bcd_encode

LEN_AT = const(9)
SECOND_START = 7
OFFSET = const(0x33)

C_READ = const(0x11)
C_READ_FOLLOW = const(0x12)
C_READ_ADDR = const(0x13)
C_WRITE = const(0x14)
C_TIME = const(0x08)
C_FREEZE = const(0x16)
C_BAUD = const(0x17)
C_PASSWORD = const(0x18)
C_RELAY = const(0x1C)
C_REPLY = const(0x80)
C_ABNORMAL = const(0x40)
C_FOLLOW = const(0x20)
C_FUNCTION = const(0x1F)

WILDCARD = "AAAAAAAAAAAA"

# error byte of an abnormal reply (bit -> meaning)
ERRORS = (
    (0x01, "other error"),
    (0x02, "no data requested"),
    (0x04, "password wrong / unauthorised"),
    (0x08, "baud rate cannot be changed"),
    (0x10, "year time zones exceeded"),
    (0x20, "day time periods exceeded"),
    (0x40, "tariffs exceeded"),
)

# DI -> (name, bytes, decimals, unit, signed): value formats per DL/T 645-2007 appendix A
DI_COMBINED_ACTIVE = const(0x00000000)
DI_FORWARD_ACTIVE = const(0x00010000)
DI_REVERSE_ACTIVE = const(0x00020000)
DI_VOLTAGE_A = const(0x02010100)
DI_CURRENT_A = const(0x02020100)
DI_ACTIVE_POWER = const(0x02030000)
DIS = {
    0x00000000: ("combined active energy total", 4, 2, "kWh", False),
    0x00010000: ("forward active energy total", 4, 2, "kWh", False),
    0x00020000: ("reverse active energy total", 4, 2, "kWh", False),
    0x00030000: ("combined reactive 1 energy total", 4, 2, "kvarh", False),
    0x02010100: ("phase A voltage", 2, 1, "V", False),
    0x02020100: ("phase A current", 3, 3, "A", True),
    0x02030000: ("total active power", 3, 4, "kW", True),
    0x02060000: ("total power factor", 2, 3, "", True),
    0x02800002: ("grid frequency", 2, 2, "Hz", False),
    0x04000401: ("communication address", 6, 0, "", False),
    0x04000402: ("meter number", 6, 0, "", False),
    0x04000503: ("status word 3", 2, -1, "", False),
    0x04000507: ("status word 7", 2, -1, "", False),
}


LAYOUT = bus.layout(LEN_AT, SECOND_START)  # frame descriptor for bus.scan / bus.check


class MeterError(Exception):
    # Abnormal reply (C bit 6): the meter's error byte, decoded.
    def __init__(self, control, error):
        super().__init__("meter reported an error: C=0x%02X %s" % (control, error_text(error)))
        self.control = control
        self.error = error


def error_text(err):
    names = [name for bit, name in ERRORS if err & bit]
    return "ERR=0x%02X (%s)" % (err, ", ".join(names) or "no flag set")


class Frame:
    # A decoded frame; data is already -0x33. di is set when the data starts with one.
    def __init__(self, address, control, data):
        self.address = address
        self.control = control
        self.data = data
        self.di = None

    def is_reply(self):
        return bool(self.control & C_REPLY)

    def is_abnormal(self):
        return bool(self.control & C_ABNORMAL)

    def has_follow_up(self):
        return bool(self.control & C_FOLLOW)

    def function(self):
        return self.control & C_FUNCTION

    def __repr__(self):
        return "<dlt645 addr=%s C=%02X data=%s>" % (
            self.address,
            self.control,
            "".join("%02X" % b for b in self.data),
        )


def scramble(data):
    return bytes((b + OFFSET) & 0xFF for b in data)


def unscramble(data):
    return bytes((b - OFFSET) & 0xFF for b in data)


def di_bytes(di):
    return bytes((di & 0xFF, (di >> 8) & 0xFF, (di >> 16) & 0xFF, di >> 24))


def di_of(data):
    return data[0] | data[1] << 8 | data[2] << 16 | data[3] << 24


def encode(address, control, data=b""):
    # One frame without wake-up bytes; data is given in clear and scrambled here.
    body = bytearray(b"\x68")
    body.extend(address_bytes(address, 6))
    body.append(0x68)
    body.append(control)
    body.append(len(data))
    body.extend(scramble(data))
    body.append(bus.checksum(body, 0, len(body)))
    body.append(bus.END)
    return bytes(body)


def decode(raw):
    # raw: one whole captured frame (FE bytes allowed before it). Raises FrameError.
    start = bus.skip_wake(raw)
    if start < 0:
        raise FrameError(bus.NO_START)
    size = bus.check(raw, start, LAYOUT, complete=True)
    return _fields(raw[start : start + size])


def _fields(f):
    n = f[LEN_AT]
    frame = Frame(address_str(f[1:7]), f[8], unscramble(f[10 : 10 + n]))
    if frame.function() in (C_READ, C_READ_FOLLOW, C_WRITE) and n >= 4:
        if not (frame.is_reply() and frame.is_abnormal()):
            frame.di = di_of(frame.data)
    return frame


class Protocol:
    layouts = (LAYOUT,)
    wake = None  # the Bus default: FE FE FE FE

    def decode(self, raw):
        return _fields(raw)


def raise_if_abnormal(frame):
    if frame.is_abnormal():
        raise MeterError(frame.control, frame.data[0] if frame.data else 0)


def value_of(di, data):
    # The value bytes of a reply for a known DI -> (number in its smallest step, decimals,
    # unit); number is an int (e.g. kWh x100), negative when the format is signed; None for
    # non-BCD bytes. Unknown DIs: (raw bytes, -1, "").
    spec = DIS.get(di)
    if spec is None:
        return bytes(data), -1, ""
    name, size, decimals, unit, signed = spec
    if len(data) < size:
        raise FrameError(bus.BAD_LENGTH, "%s needs %d bytes, got %d" % (name, size, len(data)))
    if decimals < 0:
        return data[0] | data[1] << 8, -1, unit
    if decimals == 0 and size == 6:
        return address_str(data[:6]), 0, unit
    raw = bytearray(data[:size])
    negative = False
    if signed and raw[size - 1] & 0x80:
        negative = True
        raw[size - 1] &= 0x7F
    v = bcd_decode(raw, 0, size)
    if v is not None and negative:
        v = -v
    return v, decimals, unit


def fixed(v, decimals):
    # An int in steps of 10**-decimals -> "123.45" without floats.
    if v is None:
        return "--"
    if decimals <= 0:
        return str(v)
    sign = "-" if v < 0 else ""
    v = abs(v)
    p = 10**decimals
    frac = str(v % p)
    return "%s%d.%s%s" % (sign, v // p, "0" * (decimals - len(frac)), frac)


def encode_value(di, value):
    # Reply data bytes (clear) for a DI and an int value in its smallest step (emulator, tests).
    name, size, decimals, unit, signed = DIS[di]
    if decimals < 0:
        return bytes((value & 0xFF, value >> 8))
    if decimals == 0 and size == 6:
        return address_bytes(value, 6)
    raw = bytearray(bcd_encode(abs(value), size))
    if value < 0:
        if not signed:
            raise ValueError(name + " cannot be negative")
        raw[size - 1] |= 0x80
    return bytes(raw)


class Meter:
    # A DL/T 645-2007 meter on a bus.Bus.
    def __init__(self, link, address=WILDCARD):
        self.link = link
        self.address = address

    def _request(self, control, data=b"", address=None):
        addr = self.address if address is None else address
        req = encode(addr, control, data)
        want = control | C_REPLY
        wild = addr == WILDCARD

        def accept(f):
            if not f.is_reply() or (f.control & ~(C_ABNORMAL | C_FOLLOW)) != want:
                return False
            if wild or f.address == addr:
                return f.di is None or not data or f.di == di_of(data)
            return False

        frame = self.link.exchange(req, Protocol(), accept)
        raise_if_abnormal(frame)
        return frame

    def read_address(self):
        # Address discovery with the AA broadcast (one meter on the bus).
        frame = self._request(C_READ_ADDR, address=WILDCARD)
        if len(frame.data) < 6:
            raise FrameError(bus.BAD_LENGTH, "address reply has %d bytes" % len(frame.data))
        self.address = address_str(frame.data[:6])
        return self.address

    def read(self, di):
        # Reads one DI -> (value, decimals, unit) as value_of() describes.
        frame = self._request(C_READ, di_bytes(di))
        return value_of(di, frame.data[4:])

    def energy(self):
        # (combined, forward, reverse) active energy totals in 0.01 kWh.
        return (
            self.read(DI_COMBINED_ACTIVE)[0],
            self.read(DI_FORWARD_ACTIVE)[0],
            self.read(DI_REVERSE_ACTIVE)[0],
        )
