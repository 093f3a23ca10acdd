"""3GPP TS 24.008 timer encodings used by +CPSMS, +CEREG (n=4/5) and +CEDRXS as bit strings.

* GPRS Timer 3 (T3412 extended, "Periodic-TAU"): bits 8..6 unit, bits 5..1 value.
* GPRS Timer 2 (T3324, "Active-Time"): same layout, fewer units.
* eDRX cycle for NB-S1: 4 bits, with the values NB-IoT does not allow mapped as the spec says.
"""

from __future__ import annotations

#: GPRS Timer 3 units in seconds (None = deactivated)
_T3412_UNITS: dict[int, int | None] = {
    0b000: 600,
    0b001: 3600,
    0b010: 36000,
    0b011: 2,
    0b100: 30,
    0b101: 60,
    0b110: 320 * 3600,
    0b111: None,
}
#: GPRS Timer 2 units in seconds (None = deactivated; other codes read as 1 minute)
_T3324_UNITS: dict[int, int | None] = {0b000: 2, 0b001: 60, 0b010: 360, 0b111: None}

#: NB-S1 eDRX cycle (4-bit code) -> seconds; codes NB-IoT does not allow are remapped
_EDRX_NB_S1: dict[int, float | None] = {
    0b0000: None,
    0b0001: None,
    0b0010: 20.48,
    0b0011: 40.96,
    0b0100: 20.48,
    0b0101: 81.92,
    0b0110: 20.48,
    0b0111: 20.48,
    0b1000: 20.48,
    0b1001: 163.84,
    0b1010: 327.68,
    0b1011: 655.36,
    0b1100: 1310.72,
    0b1101: 2621.44,
    0b1110: 5242.88,
    0b1111: 10485.76,
}


def _octet(bits: str) -> int:
    text = bits.strip().strip('"')
    if len(text) != 8 or any(c not in "01" for c in text):
        raise ValueError(f"timer must be 8 bits like '00100001', got {bits!r}")
    return int(text, 2)


def t3412_seconds(bits: str) -> int | None:
    """Periodic-TAU bit string -> seconds (None when deactivated)."""
    octet = _octet(bits)
    unit = _T3412_UNITS[octet >> 5]
    return None if unit is None else unit * (octet & 0x1F)


def t3324_seconds(bits: str) -> int | None:
    """Active-Time bit string -> seconds (None when deactivated, i.e. no PSM)."""
    octet = _octet(bits)
    unit = _T3324_UNITS.get(octet >> 5, 60)
    return None if unit is None else unit * (octet & 0x1F)


def edrx_seconds(bits: str) -> float | None:
    """NB-S1 eDRX 4-bit string -> cycle in seconds (None = not allowed on NB-IoT)."""
    text = bits.strip().strip('"')
    if len(text) != 4 or any(c not in "01" for c in text):
        raise ValueError(f"eDRX value must be 4 bits like '0101', got {bits!r}")
    return _EDRX_NB_S1[int(text, 2)]


def ptw_seconds(bits: str) -> float:
    """NB-S1 paging time window 4-bit string -> seconds ((value + 1) x 2.56 s)."""
    return (int(bits.strip('"'), 2) + 1) * 2.56


def encode_t3412(seconds: int) -> str:
    """Seconds -> Periodic-TAU bits: the smallest unit whose 31x covers the time."""
    return _encode(
        seconds,
        [
            (0b011, 2),
            (0b100, 30),
            (0b101, 60),
            (0b000, 600),
            (0b001, 3600),
            (0b010, 36000),
            (0b110, 320 * 3600),
        ],
    )


def encode_t3324(seconds: int) -> str:
    """Seconds -> Active-Time bits: the smallest unit whose 31x covers the time."""
    return _encode(seconds, [(0b000, 2), (0b001, 60), (0b010, 360)])


def _encode(seconds: int, units: list[tuple[int, int]]) -> str:
    for code, unit in units:
        if seconds <= 31 * unit:
            return format((code << 5) | round(seconds / unit), "08b")
    raise ValueError(f"{seconds} s is longer than the timer can encode")
