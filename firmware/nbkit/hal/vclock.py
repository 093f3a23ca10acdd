# Virtual clock of the virtual board: the same time line as the modem emulator.
#   virtual_s = epoch + (wall_s - wall_start) * scale        (docs/architecture.md, --clock)
# Decision: ticks_ms/ticks_diff/ticks_add stay REAL milliseconds. They time UART latency and AT
# command timeouts, which are wall-clock facts on a pty. time() (the RTC), sleep_ms() (light sleep,
# scheduling) and deepsleep() are VIRTUAL: sleeping N virtual ms takes N / scale wall ms.
import time

from micropython import const

from nbkit.hal.clock import Clock

_POLL_SLICE_MS = const(1000)


class VClock(Clock):
    # ticks_ms/ticks_diff/ticks_add are Clock's (real ms); time() and the sleeps are virtual.
    # wall_start: wall seconds (float) when virtual time was epoch; scale: virtual s per wall s.
    # idle(wall_ms) is called to wait (so pin events can be served while sleeping); it may return
    # early. power(ms) powers the board down for a deep sleep and never returns.

    def __init__(self, wall_start, epoch, scale, idle=None, power=None):
        if scale <= 0:
            raise ValueError("scale must be > 0")
        self.wall_start = wall_start
        self.epoch = epoch
        self.scale = scale
        self._idle = idle
        self._power = power

    def virtual_s(self):
        # Virtual seconds as a float (the RTC with sub-second resolution).
        wall = time.time_ns() / 1_000_000_000  # type: ignore[attr-defined]
        return self.epoch + (wall - self.wall_start) * self.scale

    def time(self):
        return int(self.virtual_s())

    def wall_ms(self, virtual_ms):
        # Wall milliseconds that virtual_ms of virtual time take.
        return virtual_ms / self.scale

    def sleep_ms(self, ms):
        # Light sleep for ms virtual milliseconds; pin events are served meanwhile.
        if ms <= 0:
            return
        end = self.virtual_s() + ms / 1000
        while True:
            left_ms = (end - self.virtual_s()) * 1000
            if left_ms <= 0:
                return
            wall = self.wall_ms(left_ms)
            if wall < 1:
                time.sleep_us(int(wall * 1000) + 1)  # type: ignore[attr-defined]
                continue
            step = min(int(wall), _POLL_SLICE_MS)
            if self._idle is not None:
                self._idle(step)
            else:
                time.sleep_ms(step)  # type: ignore[attr-defined]

    def deepsleep(self, ms):
        # Power down for ms virtual ms; the board then boots again (RAM lost, RTC kept).
        if self._power is not None:
            self._power(ms)
        self.sleep_ms(ms)
        raise SystemExit("deepsleep")
