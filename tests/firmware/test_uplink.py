# The report loop (nbkit.app.uplink.Reporter), written once for the meter and the smoke apps:
# every pending record goes in as few frames as fit, release-after-reply on the last, exactly
# what an authenticated ack covers leaves the queue, what the network granted is read while the
# link is up, and nothing is lost when the link or the ack fails.
from binascii import hexlify

from app_fakes import DEVICE, KEY, Link, fresh_fs
from nbkit.app.meter import MeterApp
from nbkit.app.smoke_app import SmokeApp
from nbkit.app.uplink import Reporter
from nbkit.lte import rai
from nbkit.proto import codes, frame
from nbkit.store.queue import Queue

HEAPSIZE = "256K"
MOUNT = "/up"
CFG = {"device_id": DEVICE, "key": hexlify(KEY).decode()}


class Sched:
    # what the loop tells the scheduler: the network's grant
    def __init__(self):
        self.grants = []
        self.failures = 0  # consecutive failed reports

    def granted(self, *grant):
        self.grants.append(grant)


class ForgingLink(Link):
    # answers every frame with an ack made with another key
    def send(self, data, last=True, expect_reply=True):
        super().send(data, last, expect_reply)
        self.replies = [frame.encode_ack(DEVICE, b"x" * 16, 0, 1)]


class Clock:
    # the modem's ms clock (ticks_*), moved by the link's waits
    def __init__(self):
        self.ms = 0

    def ticks_ms(self):
        return self.ms

    def ticks_add(self, t, d):
        return t + d

    def ticks_diff(self, a, b):
        return a - b


class TricklingLink(Link):
    # Each receive() waits 3 s and hands over one reply: first `refused` replies of another
    # frame (an older ack overtaken on the path, a forgery), then the frame's own ack (or,
    # with own=False, refused ones for ever). waits: the timeout of each receive().
    def __init__(self, queue, fail=0, refused=2, own=True):
        super().__init__(queue, fail)
        self.modem.clock = Clock()
        self.refused, self.own, self.waits = refused, own, []

    def send(self, data, last=True, expect_reply=True):
        super().send(data, last, expect_reply)
        other = frame.encode_data(DEVICE, KEY, [(1, 0, codes.WATER_L, 0)])[0]
        stale = [frame.ack_for(other, KEY)] * self.refused
        self.replies = stale + (self.replies if self.own else [])

    def receive(self, timeout_ms):
        self.waits.append(timeout_ms)
        self.modem.clock.ms += 3000
        if not self.own and not self.replies:
            self.replies = [frame.ack_for(frame.encode_data(DEVICE, KEY, [(1, 0, 1, 0)])[0], KEY)]
        return [self.replies.pop(0)] if self.replies else []


def _reporter(records, link_class=Link, fail=0):
    fresh_fs(MOUNT)
    queue = Queue(MOUNT + "/q")
    for i in range(records):
        queue.append(frame.pack_record(1000 + i, codes.WATER_L, i))
    lines = []
    rep = Reporter(CFG, queue, link_class(queue, fail=fail), Sched(), lambda *a: lines.append(a))
    return rep, lines


def test_both_apps_report_through_the_one_loop():
    assert MeterApp.report is Reporter.report
    assert SmokeApp.report is Reporter.report
    assert SmokeApp.max_uplinks < MeterApp.max_uplinks == Reporter.max_uplinks


def test_every_pending_record_is_sent_acked_and_dropped_release_after_reply_last():
    rep, lines = _reporter(200)
    assert rep.report() is True
    assert rep.queue.counts()["pending"] == 0
    flags = [flag for _, flag in rep.link.sent]
    assert len(flags) >= 2, flags  # 200 readings do not fit one frame
    assert flags[-1] == rai.FLAG_RELEASE_AFTER_REPLY and rai.FLAG_NONE in flags[:-1], flags
    assert sum(len(records) for records, _ in rep.link.sent) == 200
    assert rep.sched.grants == [(True, 10, 86400)]
    assert [a[0] for a in lines].count("ack") == len(flags)


def test_a_forged_ack_drops_nothing_and_is_logged():
    rep, lines = _reporter(3, ForgingLink)
    assert rep.report() is False
    assert rep.queue.counts()["pending"] == 3
    assert [a for a in lines if a[0] == "ack refused"], lines
    assert rep.sched.grants == [(True, 10, 86400)]  # the grant is read while the link is up


def test_an_older_ack_first_does_not_end_the_wait_for_the_frames_own():
    rep, lines = _reporter(3, TricklingLink)
    assert rep.report() is True
    assert rep.queue.counts()["pending"] == 0
    assert [a[0] for a in lines].count("ack refused") == 2, lines
    assert rep.link.waits == [10000, 7000, 4000]  # one wait of 10 s in all, not one per reply


def test_refused_replies_for_ever_end_the_wait_after_its_10_s():
    rep, lines = _reporter(3, lambda q, fail: TricklingLink(q, fail, own=False))
    assert rep.report() is False
    assert rep.queue.counts()["pending"] == 3
    assert rep.link.waits == [10000, 7000, 4000, 1000]
    assert rep.last_fault == 5  # FAULT_REFUSED: replies came, none acked


def test_no_link_keeps_every_record_and_says_why():
    rep, lines = _reporter(3, fail=1)
    assert rep.report() is False
    assert rep.queue.counts()["pending"] == 3 and rep.link.sent == []
    assert lines[0] == ("report", "no link", "no network"), lines
    assert lines[1][:3] == ("report", "failed:", "no-coverage"), lines
    assert rep.sched.grants == []


def test_the_frames_per_report_are_capped_and_the_rest_waits():
    rep, _ = _reporter(200)
    rep.max_uplinks = 1
    assert rep.report() is False
    assert len(rep.link.sent) == 1
    left = rep.queue.counts()["pending"]
    assert 0 < left == 200 - len(rep.link.sent[0][0])
    rep.max_uplinks = 8
    assert rep.report() is True and rep.queue.counts()["pending"] == 0


def test_an_empty_queue_does_not_wake_the_radio():
    rep, _ = _reporter(0)
    assert rep.report() is True and rep.link.ups == []
