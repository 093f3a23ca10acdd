# 3GPP NAS timer codecs: T3412-extended (GPRS Timer 3), T3324 (GPRS Timer 2), eDRX cycle and
# Paging Time Window. Pure functions, no I/O: the same file runs on the device and is imported by
# the host tools (`from nbkit.lte import timers`).
#
# Encoders round a request UP to the nearest encodable value and return (bits, obtained), so the
# caller always knows the value it really asked for. Impossible requests raise ValueError with a
# message. Decoders return seconds (T3412/T3324) or milliseconds (eDRX/PTW, exact integers), and
# None for "deactivated" / "not used".
#
# Tables: 3GPP TS 24.008 Table 10.5.163a (GPRS Timer 3), Table 10.5.172 (GPRS Timer 2),
# Table 10.5.5.32 (Extended DRX parameters: eDRX value and Paging Time Window).
try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


ACT_WB_S1 = const(4)  # AcT of AT+CEDRXS: E-UTRAN WB-S1 (Cat-M / Cat1)
ACT_NB_S1 = const(5)  # AcT of AT+CEDRXS: E-UTRAN NB-S1 (NB-IoT)

DEACTIVATED = "11100000"  # unit 111: timer deactivated (T3324: no PSM)

_UNIT_DEACTIVATED = const(7)
_MAX_VALUE = const(31)

# GPRS Timer 3 unit (bits 8..6) -> seconds; 110 = 320 h; 111 = deactivated
_T3412_UNITS = const((600, 3600, 36000, 2, 30, 60, 1152000))
# GPRS Timer 2 unit -> seconds; 011..110 are "interpreted as 1 min"
_T3324_UNITS = const((2, 60, 360, 60, 60, 60, 60))
_T3324_ENCODABLE = const(3)  # only units 000, 001, 010 are produced by the encoder

# eDRX value (4 bits) -> cycle in ms, the WB-S1 meaning for 0000..1101, NB-S1 for 1110/1111
_EDRX_MS = const(
    (
        5120,
        10240,
        20480,
        40960,
        61440,
        81920,
        102400,
        122880,
        143360,
        163840,
        327680,
        655360,
        1310720,
        2621440,
        5242880,
        10485760,
    )
)
# the code a receiver really uses for each code (-1: not allowed, IE treated as absent)
_NB_READ_AS = const((-1, -1, 2, 3, 2, 5, 2, 2, 2, 9, 10, 11, 12, 13, 14, 15))
_WB_READ_AS = const((0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 13, 13))
_PTW_STEP_NB_MS = const(2560)
_PTW_STEP_WB_MS = const(1280)


def _bits(value, width):
    return "{:0{}b}".format(value, width)


def _parse(bits, width, what):
    if not isinstance(bits, str) or len(bits) != width:
        raise ValueError("%s must be a %d-character bit string, got %r" % (what, width, bits))
    for ch in bits:
        if ch not in "01":
            raise ValueError("%s must contain only 0 and 1, got %r" % (what, bits))
    return int(bits, 2)


def _to_ms(seconds, what):
    # seconds (int or float) -> whole milliseconds; rejects negatives and non-numbers
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError("%s must be a number of seconds, got %r" % (what, seconds))
    if seconds < 0:
        raise ValueError("%s cannot be negative (%r s)" % (what, seconds))
    return int(seconds * 1000 + 0.5)


def _round_up(seconds, units, codes, what):
    # smallest value*unit >= seconds over the allowed unit codes; ties go to the finer unit
    want = (_to_ms(seconds, what) + 999) // 1000
    best = None
    for code in codes:
        unit = units[code]
        value = (want + unit - 1) // unit
        if value <= _MAX_VALUE:
            got = value * unit
            if best is None or got < best[2] or (got == best[2] and unit < units[best[0]]):
                best = (code, value, got)
    if best is None:
        top = max(units[c] for c in codes) * _MAX_VALUE
        raise ValueError(
            "%s of %r s exceeds the largest encodable value (%d s)" % (what, seconds, top)
        )
    return _bits((best[0] << 5) | best[1], 8), best[2]


# T3412 extended (Periodic-TAU), GPRS Timer 3: "uuuvvvvv" -> seconds, None if deactivated.
# integrity_protected=False applies the rule that unit 110 (320 h) is then read as 1 h.
def decode_t3412(bits, integrity_protected=True):
    octet = _parse(bits, 8, "T3412")
    unit = octet >> 5
    if unit == _UNIT_DEACTIVATED:
        return None
    if unit == 6 and not integrity_protected:
        return (octet & 0x1F) * 3600
    return (octet & 0x1F) * _T3412_UNITS[unit]


# seconds -> (bits, obtained seconds); None -> the deactivated code (network: "not included").
def encode_t3412(seconds):
    if seconds is None:
        return DEACTIVATED, None
    if _to_ms(seconds, "T3412") == 0:
        raise ValueError("T3412 of 0 s is not a periodic TAU; pass None to leave it out")
    return _round_up(seconds, _T3412_UNITS, (0, 1, 2, 3, 4, 5, 6), "T3412")


# T3324 (Active-Time), GPRS Timer 2 -> seconds, None if deactivated (= no PSM).
def decode_t3324(bits):
    octet = _parse(bits, 8, "T3324")
    unit = octet >> 5
    if unit == _UNIT_DEACTIVATED:
        return None
    return (octet & 0x1F) * _T3324_UNITS[unit]


# seconds -> (bits, obtained seconds); 0 = PSM right after RRC release; None = deactivated.
def encode_t3324(seconds):
    if seconds is None:
        return DEACTIVATED, None
    return _round_up(seconds, _T3324_UNITS, range(_T3324_ENCODABLE), "T3324")


def _read_table(act):
    if act == ACT_NB_S1:
        return _NB_READ_AS
    if act == ACT_WB_S1:
        return _WB_READ_AS
    raise ValueError("AcT must be 5 (NB-S1) or 4 (WB-S1), got %r" % (act,))


# The eDRX code a receiver really applies: NB-S1 reads 0100/0110/0111/1000 as 0010, WB-S1 reads
# 1110/1111 as 1101. None when the value is not allowed (NB-S1 0000/0001: IE treated as absent).
def edrx_read_as(bits, act=ACT_NB_S1):
    code = _read_table(act)[_parse(bits, 4, "eDRX value")]
    return None if code < 0 else _bits(code, 4)


# eDRX 4-bit value -> cycle in ms as the receiver applies it (None: not allowed / absent).
def decode_edrx_ms(bits, act=ACT_NB_S1):
    code = _read_table(act)[_parse(bits, 4, "eDRX value")]
    return None if code < 0 else _EDRX_MS[code]


# cycle in seconds -> (bits, obtained ms), rounded up over the values valid for that AcT.
def encode_edrx(seconds, act=ACT_NB_S1):
    table = _read_table(act)
    want = _to_ms(seconds, "eDRX cycle")
    for code in range(16):
        if table[code] == code and _EDRX_MS[code] >= want:
            return _bits(code, 4), _EDRX_MS[code]
    top = _EDRX_MS[table[15]]
    raise ValueError(
        "eDRX cycle of %r s exceeds the largest for AcT %d (%d ms)" % (seconds, act, top)
    )


def _ptw_step(act):
    _read_table(act)
    return _PTW_STEP_NB_MS if act == ACT_NB_S1 else _PTW_STEP_WB_MS


# Paging Time Window 4-bit value -> ms: (value + 1) x 2.56 s (NB-S1) or x 1.28 s (WB-S1).
def decode_ptw_ms(bits, act=ACT_NB_S1):
    return (_parse(bits, 4, "PTW") + 1) * _ptw_step(act)


# PTW in seconds -> (bits, obtained ms), rounded up.
def encode_ptw(seconds, act=ACT_NB_S1):
    step = _ptw_step(act)
    want = _to_ms(seconds, "PTW")
    value = max(0, (want + step - 1) // step - 1)
    if value > 15:
        raise ValueError(
            "PTW of %r s exceeds the largest for AcT %d (%d ms)" % (seconds, act, 16 * step)
        )
    return _bits(value, 4), (value + 1) * step
