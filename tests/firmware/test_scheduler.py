# The one scheduler, on virtual time (ManualClock): intervals, coalescing, alarm bypass, bounded
# jittered backoff, alignment with the granted periodic TAU, persistence across deep sleep.
from nbkit.app import scheduler as S
from nbkit.hal.clock import ManualClock
from nbkit.hal.sleep import ClockSleep

HEAPSIZE = "64K"
T0 = 1764000000


def _sched(**kw):
    clock = ManualClock(0, T0)
    kw.setdefault("rng", S.Xorshift32(7))
    return clock, S.Scheduler(clock, **kw)


def test_next_wake_is_the_report_interval_with_its_reason():
    clock, s = _sched(report_s=3600)
    assert s.next_wake() == (T0 + 3600, ["report"]), s.next_wake()


def test_work_due_close_together_is_done_in_one_wake():
    clock, s = _sched(report_s=3600, sample_s=900, coalesce_s=2)
    assert s.next_wake() == (T0 + 900, ["sample"])
    for _ in range(3):
        clock.advance(900 * 1000)
        s.sampled()
    assert s.next_wake() == (T0 + 3600, ["sample", "report"]), s.next_wake()


def test_an_overdue_task_wakes_now_not_in_the_past():
    clock, s = _sched(report_s=60)
    clock.advance(500 * 1000)
    assert s.next_wake() == (T0 + 500, ["report"])
    assert s.ms_until(T0 + 500) == 0
    assert s.ms_until(T0 + 510) == 10000


def test_alarm_bypasses_schedule_and_backoff():
    clock, s = _sched(report_s=86400, backoff_base_s=600)
    clock.advance(1000)
    s.reported(False)  # regular report failed: backing off
    at, why = s.next_wake()
    assert why == ["retry"] and at > T0 + 1 + 400, (at, why)
    s.event("alarm")
    assert s.next_wake() == (T0 + 1, ["alarm"]), s.next_wake()


def test_a_failed_alarm_retries_soon_and_success_clears_it():
    clock, s = _sched(report_s=86400, event_retry_s=10, event_retry_max_s=40)
    s.event("alarm")
    s.event("alarm")  # duplicates collapse
    s.reported(False)
    assert s.next_wake() == (T0 + 10, ["alarm"]), s.next_wake()
    for expected in (20, 40, 40):
        clock.advance(s.ms_until(s.next_wake()[0]))
        s.reported(False)
        assert s.next_wake()[0] - clock.time() == expected, (s.next_wake(), expected)
    s.reported(True)
    assert s.next_wake()[1] == ["report"], s.next_wake()


def test_pending_events_are_bounded():
    clock, s = _sched(report_s=60)
    for i in range(10):
        s.event("e%d" % i)
    assert len(s.next_wake()[1]) <= 4 + 1, s.next_wake()


def test_backoff_doubles_within_jitter_bounds_and_never_exceeds_the_max():
    clock, s = _sched(report_s=3600, backoff_base_s=60, backoff_max_s=1800, jitter_pct=25)
    for n in range(1, 12):
        bound = min(1800, 60 << (n - 1))
        for _ in range(50):
            d = s.backoff_s(n)
            assert bound * 75 // 100 <= d <= bound, (n, d, bound)


def test_failures_for_want_of_a_cell_back_off_to_their_own_longer_cap():
    clock, s = _sched(
        report_s=3600, backoff_base_s=300, backoff_max_s=3600, no_cell_max_s=10800, jitter_pct=0
    )
    delays = []
    for no_cell in (True,) * 7 + (False,):
        clock.advance(s.ms_until(s.next_wake()[0]))
        s.reported(False, no_cell=no_cell)
        delays.append(s.retry_at - clock.time())
    # doubling from the base; a search that found no cell caps at 3 h, any other failure at 1 h
    assert delays == [300, 600, 1200, 2400, 4800, 9600, 10800, 3600], delays
    try:
        S.Scheduler(clock, 3600, backoff_max_s=3600, no_cell_max_s=600)
    except ValueError as exc:
        assert "no_cell_max_s" in str(exc), exc
    else:
        raise AssertionError("a no-cell cap below the backoff cap was accepted")


def test_an_event_that_spends_its_whole_budget_on_a_search_tries_once():
    clock, s = _sched(report_s=3600, backoff_base_s=300, no_cell_tries=S.EVENT_TRIES)
    s.event("alarm")
    s.reported(False, no_cell=True)
    at, why = s.next_wake()
    assert why == ["retry"] and at - clock.time() >= 225, (at - clock.time(), why)


def test_backoff_jitter_is_deterministic_for_a_seed_and_differs_between_seeds():
    def seq(seed):
        clock, s = _sched(report_s=3600, rng=S.Xorshift32(seed))
        return [s.backoff_s(5) for _ in range(8)]

    assert seq(1) == seq(1)
    assert seq(1) != seq(2)
    assert len(set(seq(3))) > 1, seq(3)


def test_failed_reports_retry_with_growing_delay_then_resume_the_schedule():
    clock, s = _sched(report_s=3600, backoff_base_s=60, backoff_max_s=600, jitter_pct=0)
    delays = []
    for _ in range(5):
        clock.advance(s.ms_until(s.next_wake()[0]))
        s.reported(False)
        at, why = s.next_wake()
        assert why == ["retry"], why
        delays.append(at - clock.time())
    assert delays == [60, 120, 240, 480, 600], delays
    s.reported(True)
    now = clock.time()  # the schedule resumes on its slots: the next report slot after now
    assert s.next_wake() == (now - now % 3600 + 3600, ["report"]), (s.next_wake(), now)


def test_report_due_just_after_the_granted_tau_moves_before_it():
    clock, s = _sched(report_s=3900, align_s=600)
    s.granted(True, 10, 3600)  # the network granted T3412 = 1 h, shorter than the interval
    at, why = s.next_wake()
    assert at == T0 + 3600 - 30 and why == ["report", "tau-align"], (at, why)


def test_no_alignment_when_psm_denied_or_tau_far_from_the_report():
    clock, s = _sched(report_s=3900, align_s=600)
    s.granted(False, None, 3600)
    assert s.next_wake() == (T0 + 3900, ["report"])
    s.granted(True, 10, 70 * 3600)  # the report restarts T3412 long before it expires
    assert s.next_wake() == (T0 + 3900, ["report"])
    s.granted(True, 10, 1800)  # TAU far before the report: the modem does it alone
    assert s.next_wake() == (T0 + 3900, ["report"])


def test_smoke_sensor_heartbeat_only_after_silence():
    clock, s = _sched(report_s=0, heartbeat_s=86400)
    assert s.next_wake() == (T0 + 86400, ["heartbeat"])
    clock.advance(3600 * 1000)
    s.event("alarm")
    s.reported(True)  # the alarm uplink counts as a sign of life
    assert s.next_wake() == (T0 + 3600 + 86400, ["heartbeat"])


def test_invalid_configuration_is_refused():
    clock = ManualClock(0, T0)
    for kw in (
        {"report_s": 0},
        {"report_s": -1},
        {"report_s": 60, "backoff_base_s": 0},
        {"report_s": 60, "backoff_base_s": 100, "backoff_max_s": 50},
        {"report_s": 60, "jitter_pct": 100},
    ):
        try:
            S.Scheduler(clock, **kw)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (kw,))


def test_state_survives_a_deep_sleep():
    clock, s = _sched(report_s=3600, sample_s=600)
    s.granted(True, 10, 36000)
    clock.advance(100 * 1000)
    s.reported(False)
    saved = s.state()
    again = S.Scheduler(clock, report_s=3600, sample_s=600, rng=S.Xorshift32(7))
    again.restore(saved)
    assert again.next_wake() == s.next_wake(), (again.next_wake(), s.next_wake())


def test_one_virtual_day_of_hourly_reports_and_15_min_samples():
    clock, s = _sched(report_s=3600, sample_s=900)
    sleeper = ClockSleep(clock)
    counts = {"report": 0, "sample": 0}
    while clock.time() < T0 + 86400:
        at, why = s.next_wake()
        sleeper.deepsleep(s.ms_until(at))
        if "sample" in why:
            counts["sample"] += 1
            s.sampled()
        if "report" in why:
            counts["report"] += 1
            s.reported(True)
    assert counts == {"report": 24, "sample": 96}, counts
    assert sleeper.deep_ms == 86400 * 1000, sleeper.deep_ms
