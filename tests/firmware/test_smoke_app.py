# Smoke application (nbkit.app.smoke_app) on virtual time with a real queue on a RAM littlefs:
# events are appended to the durable queue before any send, sent at once with release after
# the reply (NSOSTF 0x400), retried on the short event backoff until acked; hush by the button
# IRQ; deep sleep with the comparator / button / tamper wake pins; state across deep sleep.
from binascii import hexlify

from app_fakes import DEVICE, KEY, Link, fresh_fs
from nbkit.app import smoke_app
from nbkit.hal.clock import ManualClock
from nbkit.proto import codes
from nbkit.sense import smoke
from nbkit.store.queue import Queue
from sim_pins import SimADC, SimPin

HEAPSIZE = "256K"
CLEAN = 8000
SMOKE = 40000
MOUNT = "/sm"


def _fresh_fs():
    fresh_fs(MOUNT)


def _app(clock, adc, *, link_fail=0, on_send=None, warm=False, wake_reason=None, queue=None):
    queue = queue or Queue(MOUNT + "/q")
    cfg = {"device_id": DEVICE, "key": hexlify(KEY).decode(), "heartbeat_s": 86400}
    link = Link(queue, link_fail, on_send)
    tamper = SimPin(0)
    button = SimPin(1)
    sensor = smoke.SmokeSensor(adc, smoke_app.SensorClock(clock), lambda: 3000, tamper)
    app = smoke_app.SmokeApp(
        cfg,
        clock,
        queue,
        link,
        sensor,
        button=button,
        warm=warm,
        wake_reason=wake_reason,
        reset_cause=1,
        state_path=MOUNT + "/smoke.state",
    )
    return app, link, button, tamper


def _codes(link):
    return [c for recs, _ in link.sent for c, _ in recs]


def test_power_on_is_reported_then_deep_sleep_with_wake_pins():
    _fresh_fs()
    clock = ManualClock()
    app, link, _, _ = _app(clock, SimADC(CLEAN))
    ms = app.wake()
    assert link.sent == [([(codes.BOOT, 1), (codes.BATTERY_MV, 3000)], 0x400)], link.sent
    assert app.queue.counts()["pending"] == 0
    assert 3600 * 1000 <= ms <= 86400 * 1000, ms  # next: the 24 h battery check / heartbeat
    # comparator at the alarm threshold, button pressed, tamper switch released (removed)
    assert app.wake_pins == {"smoke_adc": 30000, "button": 0, "tamper": 1}, app.wake_pins
    assert app.radio == (-85, 1)  # kept for the heartbeat


def test_alarm_is_durable_before_the_radio_and_retried_until_acked():
    _fresh_fs()
    clock = ManualClock()
    adc = SimADC(CLEAN)
    app, link, _, _ = _app(clock, adc)
    app.wake()
    adc.value = SMOKE  # the comparator woke the board

    def clear_after_alarm(link):
        if codes.SMOKE_ALARM in _codes(link):
            adc.value = CLEAN

    t0 = clock.time()
    app2, link2, _, _ = _app(
        clock,
        adc,
        link_fail=2,
        on_send=clear_after_alarm,
        warm=True,
        wake_reason="smoke_adc",
        queue=app.queue,
    )
    app2.wake()
    assert link2.ups[0] == 1, link2.ups  # the alarm record was on flash before up()
    assert len(link2.ups) >= 3, link2.ups  # two failed attempts, then sent
    sent = link2.sent
    # the two failures ride with the alarm: REPORT_FAILED 2, REPORT_FAULT 2 (no coverage)
    want = [(codes.SMOKE_ALARM, 6100), (codes.REPORT_FAILED, 2), (codes.REPORT_FAULT, 2)]
    assert sent[0] == (want, 0x400), sent
    assert codes.SMOKE_CLEAR in _codes(link2)
    assert clock.time() - t0 < 60, clock.time() - t0  # short event backoff, not the 24 h one
    assert app2.queue.counts()["pending"] == 0


def test_button_during_an_alarm_hushes_it():
    _fresh_fs()
    clock = ManualClock()
    adc = SimADC(SMOKE)
    presses = []

    def press_then_clear(link):
        if len(link.sent) == 2 and not presses:  # the power-on report, then the alarm
            presses.append(1)
            button.set(0)
            button.set(1)
        elif codes.SMOKE_HUSH in _codes(link):
            adc.value = CLEAN

    app, link, button, _ = _app(clock, adc, on_send=press_then_clear)
    app.wake()
    got = _codes(link)
    assert (
        got.index(codes.SMOKE_ALARM) < got.index(codes.SMOKE_HUSH) < got.index(codes.SMOKE_CLEAR)
    ), got
    hush = [v for recs, _ in link.sent for c, v in recs if c == codes.SMOKE_HUSH]
    assert hush == [600], hush  # 10 min, in seconds


def test_state_survives_deep_sleep_without_a_second_power_on():
    _fresh_fs()
    clock = ManualClock()
    app, link, _, tamper = _app(clock, SimADC(CLEAN))
    app.wake()
    clock.advance(3600 * 1000)
    app2, link2, _, tamper2 = _app(clock, SimADC(CLEAN), warm=True, queue=app.queue)
    tamper2.level = 1  # taken off its base while asleep: the tamper pin woke the board
    app2.wake()
    assert _codes(link2) == [codes.REMOVED], link2.sent  # no BOOT again
    assert app2.wake_pins["tamper"] == 0  # next wake: put back
    assert app2.power_on_t == app.power_on_t


def test_a_saved_state_of_another_layout_starts_the_sensor_cold_instead_of_crashing():
    _fresh_fs()
    with open(MOUNT + "/smoke.state", "w") as f:
        f.write('{"v": 1, "sched": [1, 2], "flags": []}')  # fields of another firmware
    app, link, _, _ = _app(ManualClock(), SimADC(CLEAN), warm=True)
    assert app.wake() > 0
    assert link.sent and link.sent[0][0][0] == (codes.BOOT, 1), link.sent  # a cold start


class _SmokeFor(SimADC):
    # smoke in the chamber until the clock reaches `until`
    def __init__(self, clock, until):
        SimADC.__init__(self, SMOKE)
        self.clock = clock
        self.until = until

    def read_u16(self):
        return SMOKE if self.clock.time() < self.until else CLEAN


def test_an_alarm_that_cannot_be_sent_retries_on_its_budget_then_backs_off_no_storm():
    # The network is gone for the whole half hour of smoke: the alarm is retried at once and on
    # its own short backoff (10, 20, 40, 80, 120 s), then joins the routine backoff; the
    # detector keeps sensing meanwhile, and every record stays queued for the next report.
    _fresh_fs()
    clock = ManualClock()
    app, _, _, _ = _app(clock, SimADC(CLEAN))
    app.wake()
    t0 = clock.time()
    times = []
    adc = _SmokeFor(clock, t0 + 1800)
    app2, link2, _, _ = _app(
        clock, adc, link_fail=10**6, warm=True, wake_reason="smoke_adc", queue=app.queue
    )
    ups = link2.up

    def up():
        times.append(clock.time() - t0)
        return ups()

    link2.up = up
    ms = app2.wake()  # stays awake through the alarm, then deep-sleeps
    gaps = [times[i + 1] - times[i] for i in range(len(times) - 1)]
    assert gaps[:5] == [10, 20, 40, 80, 120], (times, gaps)
    assert len(times) <= 12, times  # bounded: no retry storm while the alarm lasts
    assert app2.sensor.state == smoke.NORMAL and ms >= 1000
    assert app2.failures == len(times) and app2.last_fault == 2  # no coverage
    pending = app2.queue.counts()["pending"]
    assert pending >= 2, pending  # alarm and clear, durable, waiting for the link
