"""The meter bus as a wire in device time, for the emulator under a rig's time master.

A byte costs its bit time at the bus speed (2400 8E1: start + 8 data + parity + stop = 11
bits, 4.583 ms); the line is half duplex, so a reply starts after the request's last byte plus
the meter's answer delay (each persona's ``ANSWER_DELAY_S``, from its protocol's standard).
Every instant the meter acts at is put on its own microsecond phase (:func:`slot`): 700 us into
a millisecond, strictly after now. The firmware's timeouts fall on whole milliseconds, the
modem emulator's UART chunks on 500 us and pin edges on 300 us, so no two causes meet at one
instant and their order can never depend on the host (see ``Reactor.uart_slot``). Times here
are whole microseconds (ints): the same request gives the same instants on any host.
"""

from __future__ import annotations

#: where in a millisecond the meter's replies land (microseconds)
PHASE_US = 700


def bits_per_byte(parity: str) -> int:
    """Bits on the line per byte: start, 8 data, parity unless ``none``, one stop bit."""
    return 1 + 8 + (0 if parity == "none" else 1) + 1


def slot(earliest_us: int, now_us: int) -> int:
    """The first instant on the meter's phase at or after ``earliest_us`` and after now."""
    earliest = max(earliest_us, now_us + 1)
    k = (earliest - PHASE_US + 999) // 1000
    return k * 1000 + PHASE_US


class Line:
    """One half-duplex bus: when the bytes put on it have been carried."""

    def __init__(self, baud: int, parity: str, answer_delay_s: float) -> None:
        if baud <= 0:
            raise ValueError(f"baud {baud}: must be more than 0")
        self.baud = baud
        self.bits = bits_per_byte(parity)
        self.answer_us = int(round(answer_delay_s * 1_000_000))
        self.free_us = 0  # when the last byte put on the line has been carried

    def byte_time_us(self, n: int) -> int:
        """Microseconds that ``n`` bytes take on the line."""
        return n * self.bits * 1_000_000 // self.baud

    def carry(self, start_us: int, n: int) -> int:
        """Put ``n`` bytes on the line from ``start_us`` (after what it still carries); returns
        when their last bit has been sent."""
        self.free_us = max(start_us, self.free_us) + self.byte_time_us(n)
        return self.free_us

    def answer_at(self, now_us: int) -> int:
        """When a meter that has just received a request starts answering (on its phase)."""
        return slot(self.free_us + self.answer_us, now_us)
