# Pulse counting: debounce, quadrature direction, magnet tamper, leak / burst / no-flow and
# power loss between reports. Virtual time (ManualClock); pins are SimPin (no GPIO on unix).
import os

import micropython
from nbkit.hal.clock import ManualClock
from nbkit.sense import pulse, pulse_irq
from sim_pins import SimPin

MIN = 60000
HOUR = 60 * MIN
DAY = 24 * HOUR


def _reed(guard_ms=30):
    clock = ManualClock()
    pin = SimPin(1)
    reed = pulse_irq.Reed(pin, clock, guard_ms)
    reed.attach(SimPin.IRQ_FALLING)
    return reed, pin, clock


def _press(pin, clock, bounces=0, bounce_ms=1):
    # reed closes (falling edge), bounces, then opens
    pin.set(0)
    for _ in range(bounces):
        clock.advance(bounce_ms)
        pin.set(1)
        clock.advance(bounce_ms)
        pin.set(0)
    clock.advance(50)
    pin.set(1)


def test_reed_bounce_counts_once():
    reed, pin, clock = _reed(guard_ms=30)
    _press(pin, clock, bounces=6)
    clock.advance(200)
    _press(pin, clock, bounces=3)
    assert reed.take() == (2, 0, 0), reed.slots
    assert reed.slots[2] == 2 * 1 + 6 + 3  # every falling edge was seen, two were pulses
    assert reed.take() == (0, 0, 0)  # take() empties the counter


def test_reed_guard_is_measured_from_the_last_edge():
    reed, pin, clock = _reed(guard_ms=30)
    pin.set(0)  # t=0: counted
    clock.advance(5)
    pin.set(1)
    clock.advance(24)
    pin.set(0)  # t=29: inside the guard, ignored (and restarts it)
    clock.advance(5)
    pin.set(1)
    clock.advance(24)
    pin.set(0)  # t=58: 29 ms after the last edge, ignored
    clock.advance(5)
    pin.set(1)
    clock.advance(25)
    pin.set(0)  # t=88: 30 ms after the last edge, counted
    assert reed.take()[0] == 2, reed.slots


def _quad():
    a, b = SimPin(1), SimPin(1)  # active low, both inactive
    q = pulse_irq.Quadrature(a, b, active_low=True)
    q.attach(SimPin.IRQ_RISING | SimPin.IRQ_FALLING)
    return q, a, b


FORWARD = ((0, 1), (0, 0), (1, 0), (1, 1))  # (a, b) levels: A, A+B, B, none


def _turn(a, b, steps):
    for a_level, b_level in steps:
        a.set(a_level)
        b.set(b_level)


def test_quadrature_counts_forward_and_reverse_in_separate_registers():
    q, a, b = _quad()
    for _ in range(3):
        _turn(a, b, FORWARD)
    for _ in range(2):
        _turn(a, b, tuple(reversed(FORWARD[:3])) + ((1, 1),))
    assert q.take() == (3, 2, 0), q.slots


def test_quadrature_jitter_at_an_edge_counts_nothing():
    q, a, b = _quad()
    for _ in range(20):
        a.set(0)
        a.set(1)
    assert q.take() == (0, 0, 0)


def test_irq_handlers_allocate_nothing():
    reed, pin, clock = _reed()
    q, a, b = _quad()
    micropython.heap_lock()
    try:
        for _ in range(50):
            clock.advance(100)
            reed.irq(pin)
            a.level ^= 1
            q.irq(a)
    finally:
        micropython.heap_unlock()
    assert reed.take()[0] == 50


def _meter(source=None, clock=None, store=None, **cfg):
    clock = clock or ManualClock()
    if source is None:
        pin = SimPin(1)
        source = pulse_irq.Reed(pin, clock, 10)
        source.attach(SimPin.IRQ_FALLING)
        source.pin_for_test = pin
    return pulse.PulseMeter(source, clock, store, **cfg), clock


def _pulses(meter, n):
    pin = meter.source.pin_for_test
    for _ in range(n):
        pin.set(0)
        meter.clock.advance(20)
        pin.set(1)
        meter.clock.advance(20)


def _run(meter, ms, step=MIN, every=0):
    # polls every `step` for `ms`; a pulse every `every` ms (0: none); returns event names
    names = []
    t = 0
    while t < ms:
        meter.clock.advance(step)
        t += step
        if every and t % every == 0:
            _pulses(meter, 1)
        names.extend(e.name for e in meter.poll())
    return names


def test_reverse_flow_event_and_clear():
    q, a, b = _quad()
    clock = ManualClock()
    m, _ = _meter(source=q, clock=clock, reverse_clear_ms=HOUR)
    _turn(a, b, tuple(reversed(FORWARD[:3])) + ((1, 1),))
    events = m.poll()
    assert [e.name for e in events] == [pulse.EV_REVERSE], events
    assert (m.forward, m.reverse) == (0, 1)
    clock.advance(HOUR)
    assert [e.name for e in m.poll()] == [pulse.EV_REVERSE_CLEAR]


def test_magnet_switching_both_sensors_at_once_is_tamper():
    q, a, b = _quad()
    clock = ManualClock()
    m, _ = _meter(source=q, clock=clock, magnet_clear_ms=10 * MIN)
    a.level = 0  # an external field pulls both sensors in one step
    b.set(0)
    events = m.poll()
    assert [(e.name, e.urgent) for e in events] == [(pulse.EV_MAGNET, True)], events
    assert m.poll() == []  # raised once (hysteresis), not on every poll
    clock.advance(10 * MIN)
    assert [e.name for e in m.poll()] == [pulse.EV_MAGNET_CLEAR]


def test_field_sensor_input_is_tamper_while_active():
    field = SimPin(1)
    clock = ManualClock()
    m, _ = _meter(clock=clock, magnet_clear_ms=5 * MIN)
    m.field_pin = field
    field.set(0)
    assert [e.name for e in m.poll()] == [pulse.EV_MAGNET]
    clock.advance(30 * MIN)
    assert m.poll() == []  # still active: no clear
    field.set(1)
    clock.advance(5 * MIN)
    assert [e.name for e in m.poll()] == [pulse.EV_MAGNET_CLEAR]


def test_leak_when_no_quiet_window_within_24_hours_then_clear():
    m, clock = _meter(leak_quiet_ms=30 * MIN, noflow_ms=30 * DAY)
    names = _run(m, DAY + 10 * MIN, every=5 * MIN)  # a dripping tap: a pulse every 5 min
    assert names.count(pulse.EV_LEAK) == 1, names
    names = _run(m, 40 * MIN)  # the tap is fixed: 30 quiet minutes clear it
    assert names == [pulse.EV_LEAK_CLEAR], names


def test_no_leak_when_the_night_is_quiet():
    m, clock = _meter(leak_quiet_ms=30 * MIN, noflow_ms=30 * DAY)
    names = []
    for _ in range(3):
        names += _run(m, 20 * HOUR, every=5 * MIN)  # daytime use
        names += _run(m, 4 * HOUR)  # quiet night
    assert pulse.EV_LEAK not in names, names


def test_burst_needs_a_sustained_high_rate_and_clears_with_hysteresis():
    m, clock = _meter(burst_rate=3000, burst_clear_rate=2000, burst_windows=3)
    # 60 pulses a minute = 3600/h for 2 minutes only: a spike, no burst
    names = []
    for _ in range(2):
        _pulses(m, 60)
        clock.advance(MIN - 60 * 40)
        names += [e.name for e in m.poll()]
    _pulses(m, 10)
    clock.advance(MIN - 400)
    names += [e.name for e in m.poll()]
    assert pulse.EV_BURST not in names, names
    events = []
    for _ in range(3):
        _pulses(m, 60)
        clock.advance(MIN - 60 * 40)
        events += m.poll()
    assert [(e.name, e.urgent) for e in events] == [(pulse.EV_BURST, True)], events
    # 2500/h is below the burst rate but above the clear rate: still a burst
    for _ in range(4):
        _pulses(m, 42)
        clock.advance(MIN - 42 * 40)
        assert m.poll() == []
    names = []
    for _ in range(3):
        _pulses(m, 10)
        clock.advance(MIN - 400)
        names += [e.name for e in m.poll()]
    assert names == [pulse.EV_BURST_CLEAR], names


def test_no_flow_then_flow_resumed():
    m, clock = _meter(noflow_ms=7 * DAY, leak_window_ms=30 * DAY)
    names = _run(m, 7 * DAY, step=HOUR)
    assert names == [pulse.EV_NO_FLOW], names
    _pulses(m, 1)
    assert [e.name for e in m.poll()] == [pulse.EV_FLOW_RESUMED]


def test_an_alarm_raised_is_urgent_and_its_clearing_is_not():
    # the app reports a raised alarm at once (as meters in the field do), not hours later
    m, clock = _meter(noflow_ms=7 * DAY, leak_window_ms=30 * DAY)
    clock.advance(7 * DAY)
    raised = m.poll()
    _pulses(m, 1)
    cleared = m.poll()
    assert [(e.name, e.urgent) for e in raised + cleared] == [
        (pulse.EV_NO_FLOW, True),
        (pulse.EV_FLOW_RESUMED, False),
    ], raised + cleared


def _store(tag):
    a, b = "/tmp/nbkit_pulse_%s_a" % tag, "/tmp/nbkit_pulse_%s_b" % tag
    for p in (a, b):
        try:
            os.remove(p)
        except OSError:
            pass
    return pulse.SlotFiles(a, b)


def test_power_loss_between_reports_neither_loses_nor_double_counts():
    store = _store("loss")
    m, clock = _meter(store=store, persist_every=1)
    _pulses(m, 57)
    first = m.begin_report()
    assert (first.forward, first.d_forward) == (57, 57), first
    _pulses(m, 5)
    m.poll()
    # power loss: everything in RAM is gone; a new meter boots from the same flash slots
    m2, _ = _meter(store=store, persist_every=1)
    assert (m2.forward, m2.rep_forward) == (62, 57), (m2.forward, m2.rep_forward)
    second = m2.begin_report()
    assert (second.forward, second.d_forward) == (62, 5), second
    # and a loss right after that report: the 5 are not reported a second time
    m3, _ = _meter(store=store, persist_every=1)
    third = m3.begin_report()
    assert (third.forward, third.d_forward) == (62, 0), third
    assert third.seq > second.seq > first.seq


def test_a_torn_write_falls_back_to_the_previous_record():
    store = _store("torn")
    m, clock = _meter(store=store, persist_every=1)
    _pulses(m, 10)
    m.begin_report()
    _pulses(m, 3)
    m.poll()  # persisted 13 into the other slot
    newest = m.wseq & 1
    raw = bytearray(store.load(newest))
    store.save(newest, bytes(raw[:9]))  # power cut in the middle of that write
    m2, _ = _meter(store=store)
    assert (m2.forward, m2.rep_forward) == (10, 10), (m2.forward, m2.rep_forward)


def test_sparse_persistence_loses_at_most_the_unflushed_pulses_and_flush_saves_them():
    store = _store("sparse")
    m, clock = _meter(store=store, persist_every=10)
    _pulses(m, 14)
    m.poll()  # 14 >= 10: persisted
    _pulses(m, 3)
    m.poll()  # 3 more, not yet persisted
    assert _meter(store=store)[0].forward == 14
    m.flush()  # what a brown-out hook calls
    assert _meter(store=store)[0].forward == 17


def test_corrupt_or_missing_records_start_from_zero():
    store = _store("empty")
    assert _meter(store=store)[0].forward == 0
    store.save(0, b"\x00" * 34)
    store.save(1, b"garbage")
    assert _meter(store=store)[0].forward == 0
    assert pulse.unpack_record(pulse.pack_record(3, 1, 2, 1, 0)) == (3, 1, 2, 1, 0, 0, 0, 0)
    rec = pulse.pack_record(4, 9, 0, 9, 0, mark=(120, 7, 0))  # with a hardware counter's baseline
    assert pulse.unpack_record(rec) == (4, 9, 0, 9, 0, 120, 7, 0)
    assert pulse.unpack_record(rec[:-1]) is None and pulse.unpack_record(rec[:-1] + b"!") is None
