"""The shared virtual clock: ``virtual_s = epoch + (time.time() - wall_start) * scale``.

The emulator and the virtual board are given the same triple (``--clock WALL_START,EPOCH,SCALE``)
so hours of device time pass in seconds of wall time and both sides agree on "now".
"""

from __future__ import annotations

import time
from typing import Any

from host_tools.errors import CommandError


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
