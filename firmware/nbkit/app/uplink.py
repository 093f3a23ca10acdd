# The report loop, written once for every app (app.meter, app.smoke_app): bring the link up
# (resume from PSM; attach only when registration was lost), send the pending records of the
# durable queue in as few uplinks as fit (frame.MAX_RECORDS each, the release-after-reply flag
# on the last), drop from the queue exactly what each authenticated ack covers, read what the
# network granted for the scheduler while the link is still up, then take the link down.
# What is not acked stays queued for the next report.
from micropython import const

from nbkit.proto import frame
from nbkit.store import config

_ACK_WAIT_MS = const(10000)  # a reply needs an RRC round trip; CE2 takes seconds


class Reporter:
    # Base of the apps. cfg: validated config (device_id, key); queue: store.queue.Queue;
    # link: app.link.Link; sched: app.scheduler.Scheduler; log(*args) or None.
    max_uplinks = 8  # frames per report; what is left waits for the next report

    def __init__(self, cfg, queue, link, sched, log=None):
        self.cfg = cfg
        self.key = config.key_bytes(cfg)
        self.queue = queue
        self.link = link
        self.sched = sched
        self.log = log or _quiet

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
            pending = self.queue.pending(frame.MAX_RECORDS + 1)
            if not pending:
                return True
            if not self._uplink(pending):
                return False
        return not self.queue.counts()["pending"]

    def _uplink(self, pending):
        records = frame.records_from_pending(pending)
        data, n = frame.encode_data(self.cfg["device_id"], self.key, records)
        self.link.send(data, last=n == len(pending), expect_reply=True)  # 0x400 on the last
        self.log("uplink", records[0][0], n, len(data))
        acked = False
        for reply in self.link.receive(_ACK_WAIT_MS):
            acked = self._ack(reply) or acked
        return acked

    def _ack(self, reply):
        try:
            first, last = frame.decode_ack(reply, self.key, self.cfg["device_id"])
        except frame.FrameError as exc:  # forged, for another device, malformed: ignored
            self.log("ack refused", exc.reason)
            return False
        self.queue.ack_range(first, last)
        self.log("ack", first, last)
        return True


def _quiet(*args):
    pass
