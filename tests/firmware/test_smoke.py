# Smoke-alarm state machine on virtual time: alarm/clear with hysteresis and confirmation, hush
# timeout, self-test, low battery at power-up and every 24 h, fault, tamper, heartbeat.
from nbkit.hal.clock import ManualClock
from nbkit.sense import smoke
from sim_pins import SimADC, SimPin

SEC = 1000
MIN = 60 * SEC
HOUR = 60 * MIN
CLEAN = 8000  # clean-air chamber reading
SMOKE = 40000


class Battery:
    def __init__(self, mv=3000):
        self.mv = mv
        self.reads = 0

    def __call__(self):
        self.reads += 1
        return self.mv


def _sensor(mv=3000, tamper=None, radio=None, **cfg):
    clock = ManualClock()
    adc = SimADC(CLEAN)
    battery = Battery(mv)
    s = smoke.SmokeSensor(adc, clock, battery, tamper_pin=tamper, radio=radio, **cfg)
    start = s.start()
    return s, adc, clock, battery, start


def _run(s, clock, ms, step=SEC):
    # steps every `step` for `ms`; returns the events
    out = []
    t = 0
    while t < ms:
        clock.advance(step)
        t += step
        out.extend(s.step())
    return out


def _names(events):
    return [e.name for e in events]


def test_alarm_needs_the_confirmation_window_and_is_urgent():
    s, adc, clock, _, _ = _sensor(confirm_ms=5 * SEC)
    adc.value = SMOKE  # first seen by the sample at 1 s: the window runs from there
    assert _run(s, clock, 5 * SEC) == []
    assert s.state == smoke.CONFIRMING
    events = _run(s, clock, SEC)
    assert [(e.name, e.urgent) for e in events] == [(smoke.EV_ALARM, True)], events
    assert events[0].value == SMOKE * 100 // 65535
    assert s.sounder() == "alarm"


def test_a_short_puff_does_not_alarm():
    s, adc, clock, _, _ = _sensor(confirm_ms=5 * SEC)
    adc.value = SMOKE
    _run(s, clock, 3 * SEC)
    adc.value = CLEAN
    assert _run(s, clock, 10 * SEC) == [] and s.state == smoke.NORMAL


def test_clear_needs_the_reading_below_the_lower_threshold_for_the_window():
    s, adc, clock, _, _ = _sensor(alarm_on=30000, alarm_off=22000, confirm_ms=5 * SEC)
    adc.value = SMOKE
    _run(s, clock, 6 * SEC)
    adc.value = 25000  # below alarm_on, above alarm_off: hysteresis keeps the alarm
    assert _run(s, clock, 60 * SEC) == [] and s.state == smoke.ALARM
    adc.value = 20000
    events = _run(s, clock, 6 * SEC)
    assert [(e.name, e.urgent) for e in events] == [(smoke.EV_ALARM_CLEAR, True)], events
    assert s.state == smoke.NORMAL and s.sounder() == "off"


def test_hush_silences_until_its_timeout_then_alarms_again_if_smoke_remains():
    s, adc, clock, _, _ = _sensor(hush_ms=10 * MIN)
    adc.value = SMOKE
    _run(s, clock, 6 * SEC)
    assert _names(s.press()) == [smoke.EV_HUSH]
    assert s.state == smoke.HUSHED and s.sounder() == "off"
    assert _run(s, clock, 10 * MIN - 2 * SEC) == []
    events = _run(s, clock, 2 * SEC)
    assert _names(events) == [smoke.EV_HUSH_END, smoke.EV_ALARM], events
    assert events[1].urgent and s.sounder() == "alarm"


def test_hush_ends_early_when_smoke_clears_or_gets_much_denser():
    s, adc, clock, _, _ = _sensor()
    adc.value = SMOKE
    _run(s, clock, 6 * SEC)
    s.press()
    adc.value = CLEAN
    assert _names(_run(s, clock, 6 * SEC)) == [smoke.EV_ALARM_CLEAR]
    adc.value = SMOKE
    _run(s, clock, 6 * SEC)
    s.press()
    adc.value = 62000  # above the hush ceiling
    assert _names(_run(s, clock, SEC)) == [smoke.EV_HUSH_END, smoke.EV_ALARM]


def test_self_test_by_button_reports_pass_or_low_battery_or_fail():
    s, adc, clock, battery, _ = _sensor(test_ms=3 * SEC)
    assert s.press() == []
    assert s.sounder() == "test" and "testing" in s.state_name()
    events = _run(s, clock, 3 * SEC)
    assert [(e.name, e.value) for e in events] == [(smoke.EV_SELF_TEST, smoke.TEST_PASS)]
    battery.mv = 2500
    s.press()
    events = _run(s, clock, 3 * SEC)
    assert _names(events) == [smoke.EV_LOW_BATTERY, smoke.EV_SELF_TEST], events
    assert events[1].value == smoke.TEST_PASS_LOW_BATTERY
    battery.mv = 3000
    adc.value = 200  # dead chamber LED
    s.press()
    events = _run(s, clock, 3 * SEC)
    assert (smoke.EV_SELF_TEST, smoke.TEST_FAIL) in [(e.name, e.value) for e in events], events


def test_low_battery_is_checked_at_power_up():
    s, adc, clock, battery, start = _sensor(mv=2400)
    assert _names(start) == [smoke.EV_POWER_ON, smoke.EV_LOW_BATTERY], start
    assert start[1].value == 2400 and s.sounder() == "chirp"


def test_battery_is_checked_at_least_every_24_hours_with_hysteresis():
    s, adc, clock, battery, start = _sensor(mv=3000, battery_check_ms=48 * HOUR)
    assert s.cfg["battery_check_ms"] == 24 * HOUR  # capped by GB 20517-2025 §5.11.1
    battery.mv = 2550
    reads = battery.reads
    events = _run(s, clock, 24 * HOUR, step=10 * SEC)
    assert _names(events).count(smoke.EV_LOW_BATTERY) == 1, events
    assert battery.reads - reads <= 3  # the daily check and the heartbeat, not every sample
    battery.mv = 2650  # inside the 100 mV hysteresis: still low
    assert smoke.EV_BATTERY_OK not in _names(_run(s, clock, 24 * HOUR, step=MIN))
    battery.mv = 2750
    assert smoke.EV_BATTERY_OK in _names(_run(s, clock, 24 * HOUR, step=MIN))


def test_low_battery_chirp_silenced_for_7_hours_while_fire_alarm_still_works():
    s, adc, clock, battery, _ = _sensor(mv=2400)
    s.press()
    assert s.sounder() == "test"
    _run(s, clock, 3 * SEC)
    assert s.sounder() == "off"
    adc.value = SMOKE
    assert smoke.EV_ALARM in _names(_run(s, clock, 6 * SEC))
    adc.value = CLEAN
    _run(s, clock, 10 * SEC)
    _run(s, clock, 7 * HOUR, step=MIN)
    assert s.sounder() == "chirp"


def test_chamber_fault_and_recovery():
    s, adc, clock, _, _ = _sensor(fault_ms=30 * SEC)
    adc.value = 300
    assert _run(s, clock, 30 * SEC) == []  # first bad sample at 1 s
    events = _run(s, clock, SEC)
    assert [(e.name, e.value) for e in events] == [(smoke.EV_FAULT, 300)], events
    assert "fault" in s.state_name()
    adc.value = CLEAN
    assert _names(_run(s, clock, 31 * SEC)) == [smoke.EV_FAULT_CLEAR]


def test_a_fault_during_an_alarm_clears_the_alarm_before_reporting_the_fault():
    s, adc, clock, _, _ = _sensor(fault_ms=10 * SEC)
    adc.value = SMOKE
    _run(s, clock, 6 * SEC)
    adc.value = 0
    events = _run(s, clock, 11 * SEC)
    assert _names(events) == [smoke.EV_ALARM_CLEAR, smoke.EV_FAULT], events
    assert s.sounder() == "off"


def test_tamper_removed_from_base_and_reinstalled():
    pin = SimPin(0)
    s, adc, clock, _, start = _sensor(tamper=pin)
    assert _names(start) == [smoke.EV_POWER_ON]
    pin.set(1)
    events = _run(s, clock, SEC)
    assert [(e.name, e.urgent) for e in events] == [(smoke.EV_TAMPER, True)], events
    assert _run(s, clock, 10 * SEC) == []
    pin.set(0)
    assert _names(_run(s, clock, SEC)) == [smoke.EV_INSTALLED]


def test_heartbeat_every_24_hours_by_default_with_battery_signal_and_coverage():
    s, adc, clock, battery, _ = _sensor(radio=lambda: (-97, 1))
    events = _run(s, clock, 48 * HOUR, step=10 * SEC)
    beats = [e for e in events if e.name == smoke.EV_HEARTBEAT]
    assert [e.value for e in beats] == [(3000, -97, 1)] * 2, beats
    assert [e.t_ms for e in beats] == [24 * HOUR, 48 * HOUR]
    s.set_heartbeat(4 * HOUR)
    events = _run(s, clock, 8 * HOUR, step=MIN)
    assert _names(events).count(smoke.EV_HEARTBEAT) == 2


def test_deterministic_under_manual_clock():
    def trace():
        s, adc, clock, battery, out = _sensor(mv=2500)
        adc.value = SMOKE
        out += _run(s, clock, 6 * SEC)
        out += s.press()
        adc.value = CLEAN
        out += _run(s, clock, 30 * HOUR, step=30 * SEC)
        return [repr(e) for e in out]

    first = trace()
    assert first == trace() and len(first) >= 5, first


def test_unknown_setting_is_refused():
    try:
        _sensor(alarm_level=1)
    except ValueError as e:
        assert "alarm_level" in str(e)
        return
    raise AssertionError("accepted an unknown setting")
