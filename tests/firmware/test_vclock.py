# The virtual clock of the virtual board: RTC and sleeps are virtual, ticks stay real.
import time

from nbkit.hal.vclock import VClock

HEAPSIZE = "64K"


def _wall():
    return time.time_ns() / 1_000_000_000


def test_rtc_is_epoch_plus_scaled_wall_time():
    start = _wall() - 10  # virtual time started 10 wall seconds ago
    clock = VClock(start, 1764000000, 60)
    assert abs(clock.time() - (1764000000 + 600)) <= 1, clock.time()


def test_sleep_takes_virtual_ms_divided_by_the_scale_in_wall_time():
    clock = VClock(_wall(), 1764000000, 1000)
    t0 = time.ticks_ms()
    v0 = clock.virtual_s()
    clock.sleep_ms(60_000)  # one virtual minute
    wall = time.ticks_diff(time.ticks_ms(), t0)
    slept = clock.virtual_s() - v0
    assert 60 <= slept < 62, slept
    assert 50 <= wall < 1000, wall  # unscaled it would be 60 000 ms


def test_ticks_stay_real_milliseconds_for_uart_timeouts():
    clock = VClock(_wall(), 0, 1000)
    t0 = clock.ticks_ms()
    time.sleep_ms(20)
    assert 15 <= clock.ticks_diff(clock.ticks_ms(), t0) < 100


def test_sleep_lets_the_idle_hook_serve_events_in_slices():
    calls = []

    def idle(ms):
        calls.append(ms)
        time.sleep_ms(ms)

    clock = VClock(_wall(), 0, 1, idle=idle)
    clock.sleep_ms(30)
    assert calls and sum(calls) >= 25 and max(calls) <= 30, calls


def test_deepsleep_hands_the_power_down_to_the_board():
    asked = []

    def power(ms):
        asked.append(ms)
        raise KeyboardInterrupt  # stands for the host killing the process

    clock = VClock(_wall(), 0, 1000, power=power)
    try:
        clock.deepsleep(5000)
    except KeyboardInterrupt:
        pass
    assert asked == [5000], asked


def test_a_scale_of_zero_is_refused():
    try:
        VClock(0, 0, 0)
    except ValueError:
        return
    raise AssertionError("scale 0 accepted")
