# The water profile (nbkit.app.water) across deep sleeps: every wake builds a new WaterMeter
# (RAM is lost) from the flash records and the saved windows, while the hardware counter counts
# on. Index exactly once through power cuts; leak, burst, magnet and reverse-flow alarms on RTC
# windows; an urgent alarm reported in the wake that raised it. Virtual time (ManualClock).
from binascii import hexlify

from app_fakes import DEVICE, KEY, Link, fresh_fs
from nbkit.app.meter import MeterApp
from nbkit.app.water import WaterMeter
from nbkit.hal.clock import ManualClock
from nbkit.proto import codes
from nbkit.sense import pulse
from nbkit.store.queue import Queue
from sim_pins import SimPin

HEAPSIZE = "256K"
MOUNT = "/wm"
MIN = 60000
CFG = {
    "device_id": DEVICE,
    "key": hexlify(KEY).decode(),
    "read_interval_s": 900,
    "report_interval_s": 14400,
    "leak_lph": 30,
    "burst_lph": 3000,
    "litres_per_pulse": 1,
}


class CounterPin:
    # A hardware pulse counter input: `falling` counts on while the MCU sleeps.
    def __init__(self):
        self.falling = 0


class Board:
    # What outlives a wake: the counters, the field sensor, the flash (slot files), the saved
    # windows (MeterApp keeps them in its state file) and the RTC.
    def __init__(self, reverse=False, lpp=1):
        fresh_fs(MOUNT)
        self.fwd = CounterPin()
        self.rev = CounterPin() if reverse else None
        self.field = SimPin(1)
        self.clock = ManualClock()
        self.cfg = dict(CFG, litres_per_pulse=lpp)
        self.saved = None

    def boot(self):
        # a wake: a new meter from flash + the saved windows (None after a power cut)
        counter = pulse.HwCounter(self.fwd, self.rev)
        store = pulse.SlotFiles(MOUNT + "/p.a", MOUNT + "/p.b")
        m = WaterMeter(counter, self.clock, self.cfg, field_pin=self.field, store=store)
        if self.saved is not None:
            m.restore(self.saved)
        return m

    def sleep(self, m, minutes):
        self.saved = m.state()
        self.clock.advance(minutes * MIN)

    def flow(self, pulses, minutes, m=None):
        # pulses spread over `minutes` of deep sleep; m: the meter of the wake before it
        if m is not None:
            self.saved = m.state()
        self.fwd.falling += pulses
        self.clock.advance(minutes * MIN)


def _index(m):
    return dict(m.read())[codes.WATER_L]


def test_the_index_counts_every_pulse_once_across_deep_sleeps():
    b = Board()
    m = b.boot()
    b.flow(10, 15, m)
    m = b.boot()
    assert m.events() == [] and _index(m) == 10
    b.flow(5, 15, m)
    m = b.boot()
    m.events()  # a wake without a sample slot: the 5 are taken and flushed with state()
    b.flow(2, 15, m)
    m = b.boot()
    assert _index(m) == 17


def test_a_power_cut_before_the_windows_are_saved_counts_nothing_twice():
    b = Board()
    m = b.boot()
    b.flow(7, 15, m)
    m = b.boot()
    assert _index(m) == 7  # registers + counter baseline on flash before read() returns
    # power cut here: no state() call; the next boot restores the registers from flash
    m = b.boot()
    assert _index(m) == 7
    b.fwd.falling += 3
    assert _index(b.boot()) == 10


def test_a_counter_restarted_by_power_up_is_taken_from_zero():
    b = Board()
    m = b.boot()
    b.flow(15, 15, m)
    m = b.boot()
    assert _index(m) == 15
    b.fwd.falling = 0  # the counter lost its count at a power-up
    b.sleep(m, 1)
    m = b.boot()
    m.events()  # baseline 15 -> 0: flushed by state() although no pulse was added
    b.flow(20, 15, m)  # the counter reaches past the old baseline before the next wake
    assert _index(b.boot()) == 35


def test_leak_when_flow_never_stops_for_a_day_across_wakes_then_clear():
    b = Board()
    m = b.boot()
    seen = []
    for _ in range(4 * 25):  # 25 h at 80 L/h, a wake every 15 min
        b.flow(20, 15, m)
        m = b.boot()
        seen += m.events()
    assert seen == [(codes.LEAK, 1, True)], seen
    b.flow(0, 15, m)
    m = b.boot()
    assert m.events() == []
    b.flow(0, 15, m)
    m = b.boot()
    assert m.events() == [(codes.LEAK, 0, False)]  # a full 30 min quiet window


def test_slow_flow_below_leak_lph_leaves_quiet_windows():
    b = Board()
    m = b.boot()
    seen = []
    for _ in range(4 * 30):  # 30 h at 20 L/h < leak_lph 30
        b.flow(5, 15, m)
        m = b.boot()
        seen += m.events()
    assert seen == [], seen
    assert _index(m) == 600


def test_burst_is_urgent_in_litres_per_hour_and_clears():
    b = Board(lpp=10)  # 10 L per pulse: 400 pulses in 15 min = 16000 L/h
    m = b.boot()
    b.flow(400, 15, m)
    m = b.boot()
    assert m.events() == [(codes.BURST, 16000, True)]
    b.flow(10, 15, m)
    m = b.boot()
    assert m.events() == [(codes.BURST, 0, False)]
    assert _index(m) == 4100


def test_magnet_on_the_field_sensor_is_urgent_and_stops_waking_on_that_pin():
    b = Board()
    m = b.boot()
    assert m.wake_pins() == {"tamper": 0}
    b.field.set(0)  # a magnet at the meter: the field sensor pulls its pin low
    b.sleep(m, 1)
    m = b.boot()
    assert m.events() == [(codes.TAMPER, 1, True)]
    assert m.wake_pins() is None  # the pin stays low: wake on the schedule, not in a loop
    b.sleep(m, 15)
    m = b.boot()
    assert m.events() == []
    b.field.set(1)
    b.sleep(m, 15)
    m = b.boot()
    assert m.events() == [(codes.TAMPER, 0, False)]
    assert m.wake_pins() == {"tamper": 0}


def test_reverse_flow_event_and_reverse_register():
    b = Board(reverse=True)
    m = b.boot()
    b.flow(10, 15, m)
    m = b.boot()
    assert m.read() == [(codes.WATER_L, 10)]  # no reverse register until it moves
    b.rev.falling += 3
    b.flow(10, 15, m)
    m = b.boot()
    assert m.events() == [(codes.REVERSE_FLOW, 3, True)]
    assert m.read() == [(codes.WATER_L, 20), (codes.WATER_REV_L, 3)]
    b.flow(10, 60, m)
    m = b.boot()
    assert m.events() == [(codes.REVERSE_FLOW, 0, False)]


def test_windows_from_a_future_rtc_start_afresh():
    b = Board()
    m = b.boot()
    b.flow(20, 15, m)
    m = b.boot()
    m.events()
    b.saved = m.state()
    b.clock.now_ms -= 3600 * 1000  # the RTC went back (reset at a power loss)
    m = b.boot()
    assert m.pm.last_poll == b.clock.time() * 1000  # restored nothing from the future
    assert m.events() == []


def test_an_urgent_alarm_is_reported_in_the_wake_that_raised_it():
    b = Board()
    queue = Queue(MOUNT + "/q")
    link = Link(queue)
    path = MOUNT + "/meter.state"
    app = MeterApp(b.cfg, b.clock, queue, b.boot(), link, state_path=path)
    app.wake()  # first wake: starts the schedule, nothing due
    assert link.sent == []
    b.clock.advance(3 * MIN)  # 3 min into a 15 min sample slot
    b.field.set(0)  # the field sensor ends the deep sleep
    app = MeterApp(b.cfg, b.clock, queue, b.boot(), link, state_path=path)
    ms = app.wake()
    assert link.sent == [([(codes.TAMPER, 1)], 0x400)], link.sent
    assert queue.counts()["pending"] == 0
    assert app.wake_pins is None and 0 < ms <= 12 * MIN, ms


def test_a_saved_schedule_of_another_layout_starts_afresh_instead_of_crashing():
    b = Board()
    queue = Queue(MOUNT + "/q")
    path = MOUNT + "/meter.state"
    with open(path, "w") as f:
        f.write('{"v": 1, "sched": [1, 2, 3], "meter": [5]}')  # fields of another firmware
    app = MeterApp(b.cfg, b.clock, queue, b.boot(), Link(queue), state_path=path)
    assert 0 < app.wake() <= 900 * 1000  # the schedule and the windows start from now
