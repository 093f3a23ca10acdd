# Frames and acks bound to a boot epoch (issue 16, finding 4): a device whose queue state was
# damaged moves to a new epoch instead of reusing sequence numbers; the collector's EPOCH answer
# moves it on durably; an ack counts only for the uplink it answers, so a replayed old ack (even
# one naming the same sequence numbers) clears nothing.
import os
from binascii import hexlify

from app_fakes import DEVICE, KEY, fresh_fs
from nbkit.app import wiring
from nbkit.app.meter import MeterApp
from nbkit.hal.clock import ManualClock
from nbkit.proto import codes, frame
from nbkit.store.epoch import Epoch
from nbkit.store.queue import Queue

HEAPSIZE = "256K"
MOUNT = "/ep"
T = 1764000000
CFG = {
    "device_id": DEVICE,
    "key": hexlify(KEY).decode(),
    "read_interval_s": 900,
    "report_interval_s": 14400,
}


class Meter:
    def read(self):
        return [(codes.WATER_L, 1000)]


class ScriptedLink:
    # UdpLink's calls; answer(frame_sent) -> list of replies the network brings back
    def __init__(self, answer):
        self.answer = answer
        self.sent = []
        self.modem = None
        self.used = False
        self._replies = []

    def up(self):
        return True

    def send(self, data, last=True, expect_reply=True):
        self.sent.append(data)
        self._replies = self.answer(data)

    def receive(self, timeout_ms):
        out, self._replies = self._replies, []
        return out

    def granted(self):
        return (True, 10, 86400)

    def down(self):
        pass


def _app(queue, link, epoch=None):
    return MeterApp(
        CFG, ManualClock(), queue, Meter(), link, state_path=MOUNT + "/m.state", epoch=epoch
    )


def _fill(queue, values):
    for i, v in enumerate(values):
        queue.append(frame.pack_record(T + i, codes.WATER_L, v))


def test_a_replayed_ack_of_an_earlier_life_clears_nothing():
    fresh_fs(MOUNT)
    q1 = Queue(MOUNT + "/q1")
    _fill(q1, (10, 11))
    honest = ScriptedLink(lambda data: [frame.ack_for(data, KEY)])
    assert _app(q1, honest).report() is True
    old_ack = frame.ack_for(honest.sent[0], KEY)  # what an eavesdropper kept
    q2 = Queue(MOUNT + "/q2")  # the queue started again: seq 0, 1 once more, never delivered
    _fill(q2, (20, 21))
    attacker = ScriptedLink(lambda data: [old_ack])
    assert _app(q2, attacker).report() is False
    assert q2.counts()["pending"] == 2, "the replayed ack must not delete undelivered readings"


def test_the_collectors_epoch_answer_moves_the_device_on_durably():
    fresh_fs(MOUNT)
    queue = Queue(MOUNT + "/q")
    _fill(queue, (5,))
    epoch = Epoch(MOUNT + "/epoch")
    assert epoch.value == 0

    def collector(data):
        _, dev, ep, _records = frame.parse(data)
        if ep < 3:
            return [frame.encode_epoch(dev, KEY, 3, data[-frame.TAG_SIZE :])]
        return [frame.ack_for(data, KEY)]

    link = ScriptedLink(collector)
    app = _app(queue, link, epoch)
    assert app.report() is False  # told to move: nothing acked in this uplink
    assert app.report() is True
    assert [frame.parse(d)[2] for d in link.sent] == [0, 3]
    assert Epoch(MOUNT + "/epoch").value == 3, "on flash before it is used"
    assert epoch.move_to(2) is False, "never back"
    stale = frame.encode_epoch(DEVICE, KEY, 9, link.sent[0][-frame.TAG_SIZE :])
    _fill(queue, (6,))
    assert _app(queue, ScriptedLink(lambda data: [stale]), epoch).report() is False
    assert epoch.value == 3, "an epoch answer to another uplink is ignored"


def test_a_damaged_queue_state_bumps_the_epoch_at_boot():
    fresh_fs(MOUNT)
    os.chdir(MOUNT)
    try:
        queue = Queue("queue")
        _fill(queue, (1, 2))
        assert wiring._epoch(Queue("queue")).value == 0, "a healthy queue keeps its epoch"
        with open("queue/state", "wb") as f:
            f.write(b"\x00garbage")
        damaged = Queue("queue")
        assert damaged.state_damaged
        assert wiring._epoch(damaged).value == 1
        assert Epoch("epoch").value == 1
        assert wiring._epoch(Queue("queue")).value == 1
    finally:
        os.chdir("/")
