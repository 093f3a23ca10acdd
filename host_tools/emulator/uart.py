"""The modem UART's wire time: every byte costs its bit time at the configured baud rate.

A byte on an 8N1 line is 10 bits (start, 8 data, stop), so ``n`` bytes take ``n * 10 / baud``
seconds (9600 baud: 1.04 ms a byte; an ``AT+NSOST`` of 512 payload bytes, ~1.05 kB of hex,
~1.1 s). :class:`UartInput` applies it to what the DTE sends: the modem sees a command line
only when its last byte (the CR) has arrived, ``n * 10 / baud`` after its first byte.
:class:`~host_tools.emulator.reactor.UartOutput` applies it to what the modem sends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Scheduler(Protocol):
    """What the UART needs of the event loop (host_tools.emulator.reactor.Reactor)."""

    def now(self) -> float: ...

    def call_at(self, t: float, fn: Callable[[], None]) -> object: ...


#: bits on the wire per byte, 8N1 (start + 8 data + stop)
BITS_PER_BYTE = 10
#: baud rates a module UART accepts (AT+IPR / --baud); 0 is not a rate (auto-baud is not modelled)
BAUD_RATES = (1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200, 230400, 460800, 921600)


def bit_time(nbytes: int, baud: int) -> float:
    """Seconds that ``nbytes`` take on an 8N1 line at ``baud``."""
    return nbytes * BITS_PER_BYTE / baud


def check_baud(baud: int) -> int:
    """``baud`` when it is a rate a module UART runs at; ValueError otherwise."""
    if baud not in BAUD_RATES:
        raise ValueError(f"baud rate {baud} not one of {', '.join(map(str, BAUD_RATES))}")
    return baud


class UartInput:
    """Bytes from the DTE, handed to ``deliver`` when they have crossed the wire.

    The pty hands over a whole write at once; a real UART receives it byte by byte. A chunk
    starts when the line is free (after the previous chunk's last byte) and each line of it
    (cut after every CR, the AT line end, or CRLF) is delivered when its last byte has arrived, so
    the modem reacts to ``AT+CGMI\\r`` 8 bytes x 10 bits / baud after its first byte.
    ``on_activity(first_byte_t, last_byte_t, data)`` runs at once, at the first byte (a module
    asleep wakes on the UART activity, before the command is complete).
    """

    def __init__(
        self,
        reactor: Scheduler,
        baud: int,
        deliver: Callable[[bytes], None],
        on_activity: Callable[[float, float, bytes], None] | None = None,
    ) -> None:
        self.reactor, self.baud, self.deliver = reactor, baud, deliver
        self.on_activity = on_activity
        self._free = float("-inf")  # when the last byte received so far has arrived
        # the burst the line is in: its first byte's time and the bytes since. Every time is
        # anchor + bit_time(count), so how the pty cut one burst into reads (host timing) never
        # changes a delivery time, not even in the last bit of a float at 1.7e9 s
        self._anchor = float("-inf")
        self._count = 0
        self.received = 0

    @property
    def busy_until(self) -> float:
        """Virtual time at which the last byte received so far is complete."""
        return self._free

    def feed(self, data: bytes) -> None:
        """Bytes the DTE just wrote (first byte on the wire now, or when the line is free)."""
        if not data:
            return
        self.received += len(data)
        now = self.reactor.now()
        if now >= self._free:  # the line was idle: a new burst starts now
            self._anchor, self._count = now, 0
        t = self._anchor + bit_time(self._count, self.baud)
        end = self._anchor + bit_time(self._count + len(data), self.baud)
        self._free = end
        if self.on_activity is not None:
            self.on_activity(t, end, data)
        start = 0
        while start < len(data):
            cut = data.find(b"\r", start)
            stop = len(data) if cut < 0 else cut + 1
            if data[stop : stop + 1] == b"\n":
                stop += 1  # the LF of a CRLF line end goes with its line (not payload after it)
            piece = data[start:stop]
            self._count += len(piece)
            t = self._anchor + bit_time(self._count, self.baud)
            self.reactor.call_at(t, lambda piece=piece: self.deliver(piece))  # type: ignore[misc]
            start = stop
