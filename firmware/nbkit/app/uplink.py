# The report loop, written once for every app (app.meter, app.smoke_app): bring the link up
# (resume from PSM; attach only when registration was lost), send the pending records of the
# durable queue in as few uplinks as fit (frame.MAX_RECORDS each, the release-after-reply flag
# on the last), drop from the queue exactly what each authenticated ack covers, read what the
# network granted for the scheduler while the link is still up, then take the link down.
# What is not acked stays queued for the next report.
# Every frame carries the device's boot epoch (nbkit.store.epoch); a reply counts only when it
# is authentic AND bound to this very frame (nbkit.proto.frame.check_reply): an ACK clears the
# records it names, an EPOCH answer moves the device to the epoch the collector asks for. A
# replayed old ack, an ack for another device or a forged one clears nothing.
from micropython import const

from nbkit.proto import frame
from nbkit.store import config
from nbkit.store.epoch import Epoch

_ACK_WAIT_MS = const(10000)  # a reply needs an RRC round trip; CE2 takes seconds


class Reporter:
    # Base of the apps. cfg: validated config (device_id, key); queue: store.queue.Queue;
    # link: app.link.Link; sched: app.scheduler.Scheduler; log(*args) or None;
    # epoch: nbkit.store.epoch.Epoch (None: epoch 0 in RAM, for tests; app.wiring gives the one
    # on flash).
    max_uplinks = 8  # frames per report; what is left waits for the next report
    frame_records = frame.MAX_RECORDS  # records per frame (the self-test sends small ones)

    def __init__(self, cfg, queue, link, sched, log=None, *, epoch=None):
        self.cfg = cfg
        self.key = config.key_bytes(cfg)
        self.queue = queue
        self.link = link
        self.sched = sched
        self.log = log or _quiet
        self.epoch = epoch or Epoch(None)

    def report(self):
        # -> True when every pending record was acknowledged.
        if not self.queue.counts()["pending"]:
            return True
        if not self.link.up():
            self.log("report", "no link", self.link.modem.last_error)
            return False
        try:
            ok = self._send_pending()
            self.while_up()
            self.sched.granted(*self.link.granted())  # schedule by what the network granted
            return ok
        finally:
            self.link.down()

    def while_up(self):
        # a hook for what an app reads from the modem while it is awake after a report
        pass

    def _send_pending(self):
        for _ in range(self.max_uplinks):
            pending = self.queue.pending(self.frame_records + 1)
            if not pending:
                return True
            if not self._uplink(pending):
                return False
        return not self.queue.counts()["pending"]

    def _uplink(self, pending):
        # -> True when an ack bound to this frame cleared records of it
        records = frame.records_from_pending(pending)
        data, n = frame.encode_data(
            self.cfg["device_id"], self.key, records, epoch=self.epoch.value
        )
        self.link.send(data, last=n == len(pending), expect_reply=True)  # 0x400 on the last
        self.log("uplink", records[0][0], n, len(data))
        acked = False
        for reply in self.link.receive(_ACK_WAIT_MS):
            acked = self._reply(reply, data) or acked
        return acked

    def _reply(self, reply, data):
        try:
            kind, a, b = frame.check_reply(reply, self.key, data)
        except frame.FrameError as exc:  # forged, another device's, another uplink's: ignored
            self.log("ack refused", exc.reason)
            return False
        if kind == frame.EPOCH:
            if self.epoch.move_to(a):
                self.log("epoch", a, "(the collector holds our sequence numbers: new epoch)")
            return False
        self.queue.ack_range(a, b)
        self.log("ack", a, b)
        return True


def _quiet(*args):
    pass
