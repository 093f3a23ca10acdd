# 3GPP timer vectors (TS 24.008 tables; at-modems.md section 6), shared by the MicroPython tests
# (tests/firmware/test_timers.py) and the CPython tests (tests/host/test_timer_vectors.py).
# Seconds for T3412/T3324, milliseconds for eDRX/PTW; None = deactivated / not used.

H = 3600

# (bits, seconds)
T3412_DECODE = (
    ("01000111", 70 * H),  # 7 x 10 h
    ("00100001", 1 * H),
    ("00000111", 70 * 60),  # 7 x 10 min
    ("00111000", 24 * H),  # "TAU 24H" of a Chinese driver
    ("11000001", 320 * H),  # 320 h unit
    ("11011111", 9920 * H),  # the largest value
    ("01100101", 10),  # 5 x 2 s
    ("10000010", 60),  # 2 x 30 s
    ("10100011", 180),  # 3 x 1 min
    ("00000000", 0),
    ("11100000", None),  # deactivated
    ("11111111", None),
)

# (seconds requested, bits, seconds obtained): rounded up, ties to the finer unit
T3412_ENCODE = (
    (70 * H, "01000111", 70 * H),
    (24 * H, "00111000", 24 * H),
    (70 * 60, "00000111", 70 * 60),
    (H, "00000110", H),  # 6 x 10 min is exact and finer than 1 x 1 h
    (45, "01110111", 46),  # 23 x 2 s
    (1, "01100001", 2),
    (0.5, "01100001", 2),
    (63, "10000011", 90),  # 3 x 30 s
    (311 * H, "11000001", 320 * H),  # beyond 31 x 10 h: one 320 h unit
    (9920 * H, "11011111", 9920 * H),
    (None, "11100000", None),
)

T3412_IMPOSSIBLE = (9920 * H + 1, -1, 0)

# (bits, seconds)
T3324_DECODE = (
    ("00100100", 4 * 60),
    ("00000101", 10),
    ("00000000", 0),  # PSM right after RRC release
    ("00000001", 2),
    ("00011111", 62),
    ("01000011", 3 * 6 * 60),  # 3 decihours
    ("01011111", 186 * 60),
    ("01100010", 2 * 60),  # unit 011 is interpreted as 1 min
    ("11000001", 60),  # unit 110 too
    ("11100000", None),  # deactivated: no PSM
)

T3324_ENCODE = (
    (45, "00010111", 46),
    (10, "00000101", 10),
    (0, "00000000", 0),
    (4 * 60, "00100100", 4 * 60),
    (62, "00011111", 62),
    (63, "00100010", 120),  # 2 x 1 min
    (31 * 60 + 1, "01000110", 36 * 60),  # 6 decihours
    (186 * 60, "01011111", 186 * 60),
    (None, "11100000", None),
)

T3324_IMPOSSIBLE = (186 * 60 + 1, -5)

# (act, bits, ms as the receiver applies it)
EDRX_DECODE = (
    (5, "0010", 20480),
    (5, "0011", 40960),
    (5, "0101", 81920),
    (5, "0100", 20480),  # NB-S1 reads 0100 as 0010
    (5, "0110", 20480),
    (5, "0111", 20480),
    (5, "1000", 20480),
    (5, "1001", 163840),
    (5, "1101", 2621440),
    (5, "1110", 5242880),
    (5, "1111", 10485760),
    (5, "0000", None),  # not allowed on NB-S1: IE treated as absent
    (5, "0001", None),
    (4, "0000", 5120),
    (4, "0001", 10240),
    (4, "0100", 61440),
    (4, "1000", 143360),
    (4, "1101", 2621440),
    (4, "1110", 2621440),  # WB-S1 reads 1110 as 1101
    (4, "1111", 2621440),
)

# (act, bits, bits really used)
EDRX_READ_AS = (
    (5, "0100", "0010"),
    (5, "1000", "0010"),
    (5, "0101", "0101"),
    (5, "0000", None),
    (4, "1111", "1101"),
    (4, "0100", "0100"),
)

# (act, seconds requested, bits, ms obtained)
EDRX_ENCODE = (
    (5, 20.48, "0010", 20480),
    (5, 5, "0010", 20480),  # NB-S1 has nothing shorter than 20.48 s
    (5, 60, "0101", 81920),  # never 0100: NB-S1 would read it as 20.48 s
    (5, 81.92, "0101", 81920),
    (5, 100, "1001", 163840),
    (5, 10485.76, "1111", 10485760),
    (4, 5, "0000", 5120),
    (4, 60, "0100", 61440),
    (4, 2621.44, "1101", 2621440),
)

EDRX_IMPOSSIBLE = ((5, 10486), (4, 2622), (5, -1))

# (act, bits, ms)
PTW_DECODE = (
    (5, "0000", 2560),
    (5, "0011", 10240),
    (5, "0111", 20480),
    (5, "1111", 40960),
    (4, "0000", 1280),
    (4, "1111", 20480),
)

# (act, seconds requested, bits, ms obtained)
PTW_ENCODE = (
    (5, 10, "0011", 10240),
    (5, 10.24, "0011", 10240),
    (5, 0, "0000", 2560),
    (5, 40.96, "1111", 40960),
    (4, 10, "0111", 10240),
)

PTW_IMPOSSIBLE = ((5, 41), (4, 20.5))

MALFORMED_BITS = ("0100011", "010001111", "0100011x", "", 1000111, None)
