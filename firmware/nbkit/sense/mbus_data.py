# M-Bus application layer (EN 13757-3): the variable data structure of an RSP_UD telegram.
# CI 0x72: long header ID(4 BCD, LSB first) MAN(2) VER MED ACC STATUS SIG(2), then records;
# CI 0x7A: short header ACC STATUS SIG(2); CI 0x78: records only. A record is
# DIF [DIFE..] VIF [VIFE..] VALUE: DIF bit 7 DIFE follows, bit 6 storage LSB, bits 5-4 function
# (instantaneous, maximum, minimum, error), bits 3-0 data field (length and coding); each DIFE
# adds 4 storage bits, 2 tariff bits, 1 subunit bit. DIF 0x0F/0x1F: manufacturer data to the
# end (0x1F: more records follow in the next telegram); 0x2F: idle filler.
# Pure: the firmware's M-Bus client (nbkit.sense.mbus) and the host tools share it.
try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


from nbkit.sense import bus
from nbkit.sense.bus import FrameError
from nbkit.sense.mbus_vif import vif_fb, vif_fd, vif_primary

CI_ERROR = const(0x70)
CI_LONG = const(0x72)
CI_SHORT = const(0x7A)
CI_NONE = const(0x78)
# DIF function field
INSTANT = const(0)
MAXIMUM = const(1)
MINIMUM = const(2)
ERROR = const(3)
BAD_RECORD = "bad data record"
UNSUPPORTED = "unsupported"


class Header:
    # ident: 8-digit string; man: 3 letters; medium: code (names: nbkit.sense.names)
    def __init__(self, ident, man, version, medium, access, status, signature):  # noqa: PLR0917
        self.ident = ident
        self.man = man
        self.version = version
        self.medium = medium
        self.access = access
        self.status = status
        self.signature = signature


class Record:
    # One data record. value: int (times 10**exp), float (real32), str (text, BCD with hex
    # digits), tuple (date: y, m, d[, h, mi[, s]]) or bytes; quantity/unit from the VIF; at:
    # offset of its DIF in the frame.
    def __init__(self):
        self.function = INSTANT
        self.storage = 0
        self.tariff = 0
        self.subunit = 0
        self.dif = 0
        self.vif = 0
        self.vifes = b""
        self.quantity = ""
        self.unit = ""
        self.exp = 0
        self.value = None
        self.at = 0

    def scaled(self, exp):
        # the integer value in units of 10**exp (None: not an integer value)
        if not isinstance(self.value, int):
            return None
        d = self.exp - exp
        return self.value * 10**d if d >= 0 else self.value // 10 ** (-d)

    def __repr__(self):
        return "<record %s %s e%d %s st%d t%d u%d f%d>" % (
            self.quantity,
            self.value,
            self.exp,
            self.unit,
            self.storage,
            self.tariff,
            self.subunit,
            self.function,
        )


class Telegram:
    # A parsed RSP_UD: header (None for CI 0x78), records, manufacturer data, more (DIF 0x1F).
    def __init__(self, address, header, records, mdata=b"", more=False):  # noqa: PLR0917
        self.address = address
        self.header = header
        self.records = records
        self.mdata = mdata
        self.more = more


def manufacturer(code):
    return "".join(chr(((code >> s) & 0x1F) + 64) for s in (10, 5, 0))


def bcd_str(buf, start, n):
    return "".join("%02X" % buf[i] for i in range(start + n - 1, start - 1, -1))


def parse(frame, keep=None):
    # RSP_UD frame -> Telegram. keep(record) -> bool drops unwanted records as they are parsed
    # (a small heap). Raises FrameError naming the byte and field.
    ci = frame.ci
    d = frame.data
    at = frame.at
    if ci == CI_ERROR:
        err = d[0] if d else 0
        raise FrameError(UNSUPPORTED, "application error report (CI 0x70), error 0x%02X" % err)
    if ci == CI_LONG:
        _need(d, 0, 12, at, "the CI 0x72 header")
        header = Header(
            bcd_str(d, 0, 4),
            manufacturer(d[4] | d[5] << 8),
            d[6],
            d[7],
            d[8],
            d[9],
            d[10] | d[11] << 8,
        )
        i = 12
    elif ci == CI_SHORT:
        _need(d, 0, 4, at, "the CI 0x7A header")
        header = Header(None, None, None, None, d[0], d[1], d[2] | d[3] << 8)
        i = 4
    elif ci == CI_NONE:
        header, i = None, 0
    else:
        raise FrameError(
            UNSUPPORTED, "byte %d: CI 0x%02X is not a variable data response" % (at - 1, ci)
        )
    records = []
    mdata = b""
    more = False
    while i < len(d):
        dif = d[i]
        if dif == 0x2F:  # idle filler
            i += 1
            continue
        if dif in (0x0F, 0x1F):
            mdata = bytes(d[i + 1 :])
            more = dif == 0x1F
            break
        r, i = _record(d, i, at)
        if keep is None or keep(r):
            records.append(r)
    return Telegram(frame.a, header, records, mdata, more)


def _need(d, i, n, at, what):
    if i + n > len(d):
        raise FrameError(
            bus.TRUNCATED, "byte %d: %s needs %d bytes, %d left" % (at + i, what, n, len(d) - i)
        )


_LENGTHS = (0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, -1, 6, 0)


def _record(d, i, at):
    r = Record()
    r.at = at + i
    dif = d[i]
    r.dif = dif
    r.function = (dif >> 4) & 3
    r.storage = (dif >> 6) & 1
    i += 1
    n = 0
    ext = dif & 0x80
    while ext:
        _need(d, i, 1, at, "DIFE of the record at byte %d" % r.at)
        if n == 10:
            raise FrameError(BAD_RECORD, "byte %d: more than 10 DIFEs" % (at + i))
        dife = d[i]
        r.storage |= (dife & 15) << (1 + 4 * n)
        r.tariff |= ((dife >> 4) & 3) << (2 * n)
        r.subunit |= ((dife >> 6) & 1) << n
        ext = dife & 0x80
        n += 1
        i += 1
    if dif & 15 == 0x0F:
        raise FrameError(BAD_RECORD, "byte %d: special DIF 0x%02X inside a record" % (r.at, dif))
    _need(d, i, 1, at, "the VIF of the record at byte %d" % r.at)
    i = _vif(r, d, i, at)
    i = _value(r, d, i, at)
    return r, i


def _vif(r, d, i, at):
    vif = d[i]
    r.vif = vif
    i += 1
    if vif & 0x7F == 0x7C:  # plain-text unit: length, ASCII sent last character first
        _need(d, i, 1, at, "the plain-text VIF length")
        n = d[i]
        _need(d, i + 1, n, at, "the plain-text VIF")
        r.quantity = "".join(chr(d[i + n - k]) for k in range(n))
        i += 1 + n
    vifes = bytearray()
    ext = vif & 0x80
    while ext:
        _need(d, i, 1, at, "VIFE of the record at byte %d" % r.at)
        if len(vifes) == 10:
            raise FrameError(BAD_RECORD, "byte %d: more than 10 VIFEs" % (at + i))
        vifes.append(d[i])
        ext = d[i] & 0x80
        i += 1
    r.vifes = bytes(vifes)
    v = vif & 0x7F
    if v in (0x7B, 0x7D) and vifes:  # extension tables FB / FD: the first VIFE is the true VIF
        q = vif_fd(vifes[0] & 0x7F) if v == 0x7D else vif_fb(vifes[0] & 0x7F)
        rest = 1
    else:
        q = vif_primary(v)
        rest = 0
    if r.quantity:
        q = (r.quantity, "", 0)
    r.quantity, r.unit, r.exp = q
    for k in range(rest, len(vifes)):
        e = vifes[k] & 0x7F
        if 0x70 <= e <= 0x77:  # multiplicative correction 10**(n-6)
            r.exp += e - 0x76
        elif e == 0x7D:  # multiplicative correction 10**3
            r.exp += 3
    return i


def _value(r, d, i, at):
    field = r.dif & 15
    n = _LENGTHS[field]
    if n < 0:  # variable length: LVAR then the value
        _need(d, i, 1, at, "the LVAR of the record at byte %d" % r.at)
        lvar = d[i]
        i += 1
        if lvar < 0xC0:
            n = lvar
        elif lvar < 0xF0:
            n = lvar & 15
        elif lvar < 0xF7:  # long binary: F0-F4 4*(LVAR-0xEC) bytes, F5 48, F6 64
            n = (48, 64)[lvar - 0xF5] if lvar >= 0xF5 else 4 * (lvar - 0xEC)
        else:
            raise FrameError(BAD_RECORD, "byte %d: LVAR 0x%02X is reserved" % (at + i - 1, lvar))
        _need(d, i, n, at, "the variable-length value at byte %d" % r.at)
        if lvar < 0xC0:
            r.value = "".join(chr(d[i + n - 1 - k]) for k in range(n))
        elif lvar < 0xE0:
            r.value = _bcd(d, i, n, lvar >= 0xD0)
        else:
            r.value = _int(d, i, n)
        return i + n
    _need(d, i, n, at, "the %d-byte value of the record at byte %d" % (n, r.at))
    if field == 5:
        r.value = _real32(d, i)
    elif field in (9, 10, 11, 12, 14):
        r.value = _bcd(d, i, n, False)
    elif n:
        r.value = _int(d, i, n)
        if r.quantity.startswith("date") and n in (2, 4, 6):
            r.value = _date(d, i, n)
    return i + n


def _int(d, i, n):
    # type B: little-endian two's complement
    v = 0
    for k in range(n - 1, -1, -1):
        v = v << 8 | d[i + k]
    if n and d[i + n - 1] & 0x80:
        v -= 1 << (8 * n)
    return v


def _bcd(d, i, n, negative):
    # type A: BCD, least significant byte first; an F in the top nibble means negative. A value
    # with other hex digits (a meter's error marker) is returned as its digit string.
    text = bcd_str(d, i, n)
    if n and text[0] == "F":
        text, negative = text[1:], not negative
    for ch in text:
        if ch > "9":
            return text
    v = int(text) if text else 0
    return -v if negative else v


def _real32(d, i):
    import struct

    return struct.unpack("<f", bytes(d[i : i + 4]))[0]


def _date(d, i, n):
    # type G (2 bytes): date; type F (4): date and minute; type I (6): date and second
    if n == 2:
        b0, b1 = d[i], d[i + 1]
        return (_year(b0, b1), b1 & 15, b0 & 31)
    if n == 4:
        b0, b1, b2, b3 = d[i], d[i + 1], d[i + 2], d[i + 3]
        return (_year(b2, b3), b3 & 15, b2 & 31, b1 & 31, b0 & 63)
    s, b0, b1, b2, b3 = d[i], d[i + 1], d[i + 2], d[i + 3], d[i + 4]
    return (_year(b2, b3), b3 & 15, b2 & 31, b1 & 31, b0 & 63, s & 63)


def _year(day_byte, month_byte):
    y = (day_byte & 0xE0) >> 5 | (month_byte & 0xF0) >> 1
    return y + (1900 if y >= 81 else 2000)
