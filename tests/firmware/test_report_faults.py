# A meter that never stops counting (issue 15, items 1 and 2). Every report failure is handled
# in the app: classified (transient CME, no coverage, modem reboot, no ack, collector refusal),
# backed off exponentially with jitter up to a cap, persisted across deep sleep, counted and
# reported in the next successful uplink. Sampling is sacred: for every fault class a whole
# virtual day of deep-sleep wakes (a new app from flash each wake) takes every sample slot, and
# the modem is woken a bounded number of times. An alarm retries sooner than the routine report,
# within its own budget. The last resort (app.device) saves, counts and resets the board.
import gc
from binascii import hexlify

from app_fakes import DEVICE, KEY, Link, fresh_fs
from nbkit.app import scheduler as sch
from nbkit.app import uplink as up
from nbkit.app.meter import MeterApp
from nbkit.hal.clock import ManualClock
from nbkit.lte import cereg
from nbkit.modem.base import ModemError
from nbkit.proto import codes, frame
from nbkit.store.queue import Queue

HEAPSIZE = "512K"  # a RAM flash image per device, and app.device with all it wires
MOUNT = "/rf"
DAY = 86400
CFG = {
    "device_id": DEVICE,
    "key": hexlify(KEY).decode(),
    "read_interval_s": 900,
    "report_interval_s": 3600,
}


class Modem:
    def __init__(self):
        self.last_error = None
        self.boots = 0
        self.reg = None  # the last +CEREG seen (nbkit.lte.cereg.Reg)
        self.powered_down = 0

    def power_down(self):
        self.powered_down += 1


class FaultLink(Link):
    # The four link calls with one fault on every report until heal(): "cme" (+CME ERROR: 4
    # on every send), "coverage" (never registers), "reboot" (the modem reboots under the send,
    # the link's own resend lost too), "noack" (the collector never answers), "refused" (it
    # answers with something that is not our ack: another key), "cell-lost" (the send goes,
    # then +CEREG: 2 comes in the ack wait: the cell went away under the report).
    def __init__(self, queue, fault=None):
        super().__init__(queue)
        self.modem = Modem()
        self.fault = fault
        self.attempts = 0
        self.early = []  # release_early at each send

    def heal(self):
        self.fault = None

    def up(self):
        self.attempts += 1
        self.ups.append(self.queue.counts()["pending"])
        if self.fault == "coverage":
            self.modem.last_error = "not registered (stat 2)"
            return False
        return True

    def send(self, data, last=True, expect_reply=True):
        if self.fault == "cme":
            raise ModemError("sendto refused", None, 4)
        if self.fault == "reboot":
            self.modem.boots += 1
            raise ModemError("modem rebooted during sendto (REBOOT_CAUSE_APPLICATION_WATCHDOG)")
        super().send(data, last, expect_reply)
        self.early.append(getattr(self, "release_early", None))
        if self.fault == "cell-lost":
            self.modem.reg = cereg.parse("+CEREG:2")
        if self.fault in ("noack", "cell-lost"):
            self.replies = []
        elif self.fault == "refused":
            self.replies = [frame.encode_ack(DEVICE, b"x" * 16, 0, 1)]


class Meter:
    # counts its reads: what outlives the wakes is the hardware, like a pulse counter
    def __init__(self):
        self.reads = 0

    def read(self):
        self.reads += 1
        return [(codes.WATER_L, self.reads)]


class Device:
    # What outlives a deep sleep: the flash (queue, state file), the RTC, the meter, the modem.
    def __init__(self, fault=None):
        gc.collect()  # the last device's flash image goes before a new one is made
        fresh_fs(MOUNT)
        self.clock = ManualClock()
        self.meter = Meter()
        self.link = FaultLink(None, fault)
        self.lines = []

    def app(self):
        # one wake's app, built afresh (RAM is lost in deep sleep)
        queue = Queue(MOUNT + "/q")
        self.link.queue = queue
        return MeterApp(
            CFG,
            self.clock,
            queue,
            self.meter,
            self.link,
            state_path=MOUNT + "/meter.state",
            log=lambda *a: self.lines.append(a),
        )

    def run(self, seconds):
        # deep-sleep wakes for `seconds` of virtual time (its end included) -> the last app
        end = self.clock.time() + seconds
        app = None
        while self.clock.time() <= end:
            app = self.app()
            ms = app.wake()
            self.clock.advance(max(ms, 1000))
        return app


FAULTS = (
    ("cme", up.FAULT_CME),
    ("coverage", up.FAULT_COVERAGE),
    ("reboot", up.FAULT_REBOOT),
    ("noack", up.FAULT_NO_ACK),
    ("refused", up.FAULT_REFUSED),
)


def test_every_fault_class_is_handled_in_report_classified_and_backed_off():
    for fault, klass in FAULTS:
        dev = Device(fault)
        app = dev.app()
        app.sample()
        now = dev.clock.time()
        assert app.report() is False, fault  # no exception reaches the caller
        assert app.last_fault == klass and app.failures == 1, (fault, app.last_fault)
        assert dev.lines[-1][:3] == ("report", "failed:", up.FAULT_NAMES[klass]), dev.lines
        app.sched.reported(False)
        delay = app.sched.retry_at - now
        assert 225 <= delay <= 300, (fault, delay)  # base min(300, report) less <= 25 % jitter
        assert app.sched.next_wake()[1] in (["retry"], ["sample"], ["sample", "retry"])


def test_every_sample_slot_of_a_day_is_taken_while_every_report_fails():
    for fault, klass in FAULTS:
        dev = app = None
        dev = Device(fault)
        app = dev.run(DAY)
        assert dev.meter.reads == DAY // 900, (fault, dev.meter.reads)  # 96: every slot
        # exponential backoff capped at the report interval: about one attempt an hour, never
        # the 60 s crash loop of old (1440 modem wakes a day); in a coverage hole capped at
        # three report intervals (each attempt there is a search): about one every 3 h
        low, high = (10, 16) if klass == up.FAULT_COVERAGE else (20, 30)
        assert low <= dev.link.attempts <= high, (fault, dev.link.attempts)
        assert app.last_fault == klass and app.failures == dev.link.attempts, fault
        assert app.queue.counts()["pending"] >= DAY // 900  # nothing lost


def test_sample_slots_stay_on_the_clock_while_reports_fail():
    dev = Device("cme")
    dev.run(4 * 3600)
    app = dev.app()
    times = []
    for _, data in app.queue.pending(200):
        t, code, _ = frame.unpack_record(data)
        if code == codes.WATER_L:
            times.append(t)
    assert len(times) == 16, times
    assert [t % 900 for t in times] == [0] * 16, times  # on the :00 :15 :30 :45 slots


def test_the_backoff_survives_deep_sleep_and_power_cuts():
    dev = Device("noack")
    app = dev.app()
    for _ in range(3):  # three failures in a row: the fourth retry waits 4 x base
        app.sample()
        app.sched.reported(app.report())
    app._save()
    failures, retry_at = app.sched.failures, app.sched.retry_at
    assert failures == 3 and 900 <= retry_at - dev.clock.time() <= 1200, retry_at
    again = dev.app()  # a deep sleep (or a power cut after the save): RAM lost
    assert (again.sched.failures, again.sched.retry_at) == (failures, retry_at)
    assert again.failures == 3 and again.last_fault == up.FAULT_NO_ACK
    attempts = dev.link.attempts
    while dev.clock.time() < retry_at - 5:  # the sample slots before it wake the MCU only
        dev.clock.advance(max(dev.app().wake(), 1000))
    assert dev.link.attempts == attempts, "retried before its time after the deep sleep"
    dev.clock.advance((retry_at - dev.clock.time()) * 1000)
    dev.app().wake()
    assert dev.link.attempts == attempts + 1


def test_a_power_cut_after_a_sample_reached_the_queue_does_not_take_its_slot_twice():
    dev = Device()
    dev.run(0)  # the first wake starts the schedule and saves it
    wake_at, reasons = dev.app().sched.next_wake()
    assert sch.SAMPLE in reasons
    dev.clock.advance((wake_at - dev.clock.time()) * 1000)
    dev.app().sample()  # the reading is on the queue; the power fails before the slot is saved
    reads = dev.meter.reads
    again = dev.app()  # the boot after the cut
    assert [a for a in dev.lines if a[:2] == ("state", "slot of reading")], dev.lines
    again.wake()
    assert dev.meter.reads == reads, "the slot was sampled twice"
    assert again.sched.next_wake()[0] >= wake_at + CFG["read_interval_s"]


def test_the_next_successful_uplink_carries_the_failure_counter():
    dev = Device("cme")
    dev.run(3 * 3600)
    failed = dev.link.attempts
    assert failed >= 3, failed
    dev.link.heal()
    app = dev.run(3600)
    sent = [rec for records, _ in dev.link.sent for rec in records]
    assert (codes.REPORT_FAILED, failed) in sent, sent
    assert (codes.REPORT_FAULT, up.FAULT_CME) in sent, sent
    assert app.queue.counts()["pending"] <= 1, app.queue.counts()  # the reading since
    assert app.sched.failures == 0, app.sched.failures  # back to hourly reports


def _alarm_attempts(fault):
    # an alarm raised after 3 h of failed routine reports -> (routine backoff then, the gaps
    # between the alarm's attempts)
    dev = Device(fault)
    app = dev.run(3 * 3600)  # routine reports backed off to about an hour
    routine = app.sched.backoff_s(app.sched.failures)
    app.sched.event("burst")
    app._save()
    t0 = dev.clock.time()
    attempts = dev.link.attempts
    times = []
    while dev.link.attempts - attempts < 8 and dev.clock.time() - t0 < 3 * 3600:
        before = dev.link.attempts
        ms = dev.app().wake()
        if dev.link.attempts > before:
            times.append(dev.clock.time() - t0)
        dev.clock.advance(max(ms, 1000))
    assert times[0] == 0, times  # at once, bypassing the hour-long backoff
    return routine, [times[i + 1] - times[i] for i in range(len(times) - 1)]


def test_an_alarm_retries_sooner_than_the_routine_report_within_its_budget():
    routine, gaps = _alarm_attempts("noack")
    assert routine >= 2700, routine
    assert gaps[:5] == [10, 20, 40, 80, 120], gaps  # its own short backoff (persisted)
    assert gaps[5] >= 2700, gaps  # budget spent: back to the routine backoff, no storm


def test_an_alarm_raised_in_a_coverage_hole_searches_once_then_waits_with_the_routine_retries():
    # an attempt without a cell is a search (the dearest failure there is): the meter's alarm
    # spends its whole budget on it, so it searches once at once and then its records go with
    # the routine retries, which in a hole back off towards three report intervals
    routine, gaps = _alarm_attempts("coverage")
    assert routine >= 2700, routine
    assert gaps and gaps[0] >= 2700, gaps


def test_a_cell_lost_under_the_report_turns_the_radio_off_and_counts_as_no_coverage():
    dev = Device("cell-lost")
    app = dev.app()
    app.sample()
    assert app.report() is False
    assert app.last_fault == up.FAULT_COVERAGE and app.no_cell(), app.last_fault
    assert dev.link.modem.powered_down == 1  # not left searching until the retry


def test_a_reboot_search_is_not_a_lost_cell():
    # a modem that rebooted under the report searches again by itself: FAULT_REBOOT, radio on
    dev = Device("cell-lost")
    app = dev.app()
    app.sample()
    dev.link.on_send = lambda link: setattr(link.modem, "boots", link.modem.boots + 1)
    assert app.report() is False
    assert app.last_fault == up.FAULT_REBOOT and dev.link.modem.powered_down == 0


def _reports(fault, n):
    # n reports, the first with the fault, the rest healed -> release_early at each send
    dev = Device(fault)
    app = dev.app()
    for k in range(n):
        if k == 1:
            dev.link.heal()
        app.sample()
        app.sched.reported(app.report())
    return dev.link.early


def test_after_an_unanswered_report_the_next_sends_release_the_radio_at_once():
    early = _reports("noack", 3)
    assert early[:2] == [False, True], early
    assert early[2] is False, early  # answered again: back to release-after-reply


def test_once_a_frame_is_answered_the_rest_of_the_report_waits_for_its_acks_again():
    dev = Device("noack")
    app = dev.app()
    app.sample()
    app.sched.reported(app.report())  # unanswered: the next sends release at once
    dev.link.heal()
    for i in range(up.FRAME_RECORDS + 10):  # a backlog of two frames
        app.queue.append(frame.pack_record(1000 + i, codes.WATER_L, i))
    assert app.report() is True
    assert dev.link.early == [False, True, False], dev.link.early


def test_other_failures_keep_waiting_for_the_reply_connected():
    assert _reports("cme", 2) == [False], "a refused send goes nowhere: nothing to release"


def test_the_last_resort_logs_saves_counts_and_resets_the_board():
    from nbkit.app import device

    dev = Device()
    app = dev.app()

    class Board:
        resets = 0

        def clock(self):
            return dev.clock

        def reset(self):
            Board.resets += 1

    device.EVENTS_PATH = MOUNT + "/events.log"
    device._last_resort(Board(), app, RuntimeError("a bug"))
    assert Board.resets == 1
    again = dev.app()
    assert again.failures == 1 and again.last_fault == up.FAULT_CRASH
    assert again.sched.failures == 1 and again.sched.retry_at > dev.clock.time()
    from nbkit.store.eventlog import EventLog

    assert "crash: RuntimeError: a bug" in EventLog(MOUNT + "/events.log").tail(1)[0]
    again.booted(2)  # the reset's boot: recorded, but no immediate report while backing off
    assert again.sched.events == []
    assert sch.RETRY in again.sched.next_wake()[1]
