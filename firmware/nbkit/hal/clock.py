# Monotonic milliseconds and wall-clock seconds, behind one small object so tests and the
# virtual board can substitute virtual time. Every timeout in the firmware goes through a Clock.
import time


class Clock:
    # Real time: time.ticks_ms() for timeouts, time.time() for timestamps (RTC seconds).

    def ticks_ms(self):
        return time.ticks_ms()  # type: ignore[attr-defined]

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)  # type: ignore[attr-defined]

    def ticks_add(self, a, delta):
        return time.ticks_add(a, delta)  # type: ignore[attr-defined]

    def sleep_ms(self, ms):
        time.sleep_ms(ms)  # type: ignore[attr-defined]

    def time(self):
        return time.time()


class ManualClock:
    # Virtual time for tests: nothing moves until advance()/sleep_ms() is called.

    def __init__(self, start_ms=0, epoch=1764000000):
        self.now_ms = start_ms
        self.epoch = epoch

    def ticks_ms(self):
        return self.now_ms

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, delta):
        return a + delta

    def sleep_ms(self, ms):
        self.now_ms += ms

    def advance(self, ms):
        self.now_ms += ms

    def time(self):
        return self.epoch + self.now_ms // 1000


class RtcMs:
    # Milliseconds of the RTC, for windows that must outlast a deep sleep (ticks_ms restarts at
    # every boot of a board; the RTC runs on). The virtual board's RTC is its virtual clock
    # (virtual_s, sub-second); a real board's is time.time() (1 s resolution). The values are
    # large (ms since the epoch): main-loop use only, never in an IRQ handler.
    def __init__(self, clock):
        self.clock = clock
        self._virtual = getattr(clock, "virtual_s", None)

    def ticks_ms(self):
        if self._virtual is not None:
            return int(self._virtual() * 1000)
        return self.clock.time() * 1000

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, delta):
        return a + delta

    def time(self):
        return self.clock.time()
