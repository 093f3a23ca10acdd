# Sampling keeps to fixed slots: a late wake does not push the following readings later.
from nbkit.app.scheduler import SAMPLE, Scheduler
from nbkit.hal.clock import ManualClock


def test_a_late_sample_keeps_the_next_one_on_its_slot():
    clock = ManualClock(epoch=1764000000)  # a multiple of 900
    sched = Scheduler(clock, 14400, sample_s=900)
    clock.advance((900 + 240) * 1000)  # the wake for the 900 s slot ran 240 s late
    sched.sampled()
    wake_at, reasons = sched.next_wake()
    assert wake_at == 1764000000 + 1800, wake_at - 1764000000
    assert SAMPLE in reasons, reasons


def test_a_day_of_late_wakes_still_holds_96_readings():
    clock = ManualClock(epoch=1764000000)
    sched = Scheduler(clock, 86400 * 2, sample_s=900)
    taken = 0
    while clock.time() < 1764000000 + 86400:
        wake_at, reasons = sched.next_wake()
        clock.advance((wake_at - clock.time() + 200) * 1000)  # every wake 200 s late
        if SAMPLE in reasons and clock.time() <= 1764000000 + 86400 + 200:
            sched.sampled()
            taken += 1
    assert taken == 96, taken


def test_a_slow_report_does_not_delay_the_next_one():
    clock = ManualClock(epoch=1764000000)
    sched = Scheduler(clock, 14400, sample_s=900)
    clock.advance((14400 + 1500) * 1000)  # the 4 h report took 25 minutes (retries, CE2)
    sched.reported(True)
    assert sched.next_wake()[0] >= 1764000000 + 14400 + 1500
    due = [at for at, why in sched._candidates() if why == "report"]
    assert due == [1764000000 + 2 * 14400], due


def test_a_report_phase_moves_every_report_of_the_device_by_that_much():
    clock = ManualClock(epoch=1764000000)  # a multiple of 14400
    sched = Scheduler(clock, 14400, sample_s=900, phase_s=600)
    clock.advance(30 * 1000)  # the boot report
    sched.reported(True)
    due = [at for at, why in sched._candidates() if why == "report"]
    assert due == [1764000000 - 14400 + 600 + 14400], due  # the slot that began before boot
    clock.advance((600 - 30 + 14400 + 40) * 1000)  # the next report, 40 s slow
    sched.reported(True)
    due = [at for at, why in sched._candidates() if why == "report"]
    assert due == [1764000000 + 600 + 2 * 14400], due
