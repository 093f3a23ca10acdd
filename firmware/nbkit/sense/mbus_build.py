# M-Bus builders for the slave side: records, headers and dates as a meter sends them, and the
# selection match a slave makes. The host's emulator persona and the tests use them; a device
# (the master) never loads this module. Pure.


def selects(pattern, ident_raw, man, version, medium):
    # Does the 8-byte selection `pattern` match this slave (ident_raw: its 4 BCD bytes)?
    for i in range(4):
        p = pattern[i]
        for shift in (0, 4):
            nib = (p >> shift) & 15
            if nib != 15 and nib != (ident_raw[i] >> shift) & 15:
                return False
    pm = pattern[4] | pattern[5] << 8
    return pm in (0xFFFF, man) and pattern[6] in (0xFF, version) and pattern[7] in (0xFF, medium)


def manufacturer_code(letters):
    letters = letters.upper()
    if len(letters) != 3 or not all("A" <= ch <= "Z" for ch in letters):
        raise ValueError("a manufacturer is 3 letters A-Z, got %r" % letters)
    return (ord(letters[0]) - 64) << 10 | (ord(letters[1]) - 64) << 5 | (ord(letters[2]) - 64)


def date_g(y, m, d):
    y %= 100
    return bytes(((y & 7) << 5 | d, (y >> 3) << 4 | m))


def date_f(y, m, d, h, mi):
    g = date_g(y, m, d)
    return bytes((mi, h)) + g


def record(dif, vif, data, dife=b"", vifes=b""):
    # One encoded record (the emulator and tests build telegrams with it).
    return bytes((dif | (0x80 if dife else 0),)) + dife + bytes((vif,)) + vifes + data


def le(value, n):
    return bytes((value >> (8 * k)) & 0xFF for k in range(n))


def bcd(value, n):
    out = bytearray(n)
    for k in range(n):
        value, r = divmod(value, 100)
        out[k] = (r // 10) << 4 | (r % 10)
    if value:
        raise ValueError("value does not fit in %d BCD bytes" % n)
    return bytes(out)


def long_header(ident, man, version, medium, access, status=0):  # noqa: PLR0917
    return (
        bcd(int(ident), 4)
        + le(manufacturer_code(man), 2)
        + bytes((version, medium, access, status, 0, 0))
    )
