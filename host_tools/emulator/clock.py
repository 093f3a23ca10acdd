"""The wall clock: ``virtual_s = epoch + (time.time() - wall_start) * scale``.

Processes that share wall time (the rig's ``real`` clock: a real modem on a USB-UART) are given
the same triple, ``--clock WALL_START,EPOCH,1``, so they agree on "now". A shared triple runs at
scale 1 (:func:`check_shared_scale`): the scaled-wall clock, which made host latency device
time, is gone; simulated time is a time master's (``--clock sim:HOST:PORT:CHAN``). Only the
emulator alone (``nbkit emulate --time-scale``, no ``--clock``) still runs a faster wall clock,
for a DTE outside any rig that waits in wall time (a terminal, a C driver).
"""

from __future__ import annotations

import time
from typing import Any

from host_tools.errors import CommandError


def check_shared_scale(text: str, scale: float) -> None:
    """A ``--clock`` triple shared between processes runs at scale 1 (CommandError else)."""
    if scale != 1:
        raise CommandError(
            f"--clock {text!r}: a shared wall clock runs at SCALE 1 (real time); simulated "
            "time is a time master's: --clock sim:HOST:PORT:CHAN (nbkit demo/fleet start one)"
        )


class VirtualClock:
    """Maps wall-clock time to virtual seconds with a fixed origin and speed."""

    def __init__(self, wall_start: float, epoch: float, scale: float) -> None:
        if not scale > 0:
            raise CommandError(f"time scale must be > 0, got {scale!r}")
        self.wall_start = float(wall_start)
        self.epoch = float(epoch)
        self.scale = float(scale)

    @classmethod
    def starting_now(cls, scale: float = 1.0) -> VirtualClock:
        """A clock whose virtual time starts at the current Unix time (whole second)."""
        wall = time.time()
        return cls(wall, float(int(wall)), scale)

    @classmethod
    def parse(cls, text: str) -> VirtualClock:
        """Parse ``WALL_START,EPOCH,SCALE`` (three numbers) as printed by :meth:`triple`."""
        parts = text.split(",")
        if len(parts) != 3:
            raise CommandError(f"--clock wants WALL_START,EPOCH,SCALE, got {text!r}")
        try:
            wall, epoch, scale = (float(p) for p in parts)
        except ValueError:
            raise CommandError(f"--clock wants three numbers, got {text!r}") from None
        check_shared_scale(text, scale)
        return cls(wall, epoch, scale)

    def triple(self) -> str:
        """The ``WALL_START,EPOCH,SCALE`` text another process passes as ``--clock``."""
        return f"{self.wall_start:.6f},{self.epoch:.6f},{self.scale!r}"

    def now(self) -> float:
        """Current virtual time in seconds."""
        return self.epoch + (time.time() - self.wall_start) * self.scale

    def wall_delay(self, virtual_seconds: float) -> float:
        """Wall-clock seconds that ``virtual_seconds`` of virtual time take."""
        return max(0.0, virtual_seconds) / self.scale


class SimTime:
    """The emulator's clock under a rig's time master (``--clock sim:HOST:PORT:CHAN``): virtual
    time is the master's; the reactor blocks until input or the master's next ``now``.
    ``counters()`` reports the UART's bytes (``CHAN.uart.dn>`` written to the board,
    ``CHAN.uart.up<`` read from it) and the reactor's datagram counts."""

    def __init__(self, chan: str) -> None:
        self.chan = chan
        self.client: Any = None
        self._emu: Any = None

    def watch(self, emu: Any) -> None:
        self._emu = emu

    def counters(self) -> dict[str, int]:
        emu = self._emu
        if emu is None:
            return {}
        return {
            f"{self.chan}.uart.dn>": emu.output.written,
            f"{self.chan}.uart.up<": emu.read_bytes,
            **emu.reactor.tally,
        }

    def now(self) -> float:
        return float(self.client.now())

    def wall_delay(self, virtual_seconds: float) -> float:
        return 0.0

    def triple(self) -> str:
        return f"sim (master {self.client.spec})"
