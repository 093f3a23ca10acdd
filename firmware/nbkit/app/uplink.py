# The report loop, written once for every app (app.meter, app.smoke_app): bring the link up
# (resume from PSM; attach only when registration was lost), send the pending records of the
# durable queue in as few uplinks as fit (FRAME_RECORDS each, the release-after-reply flag
# on the last), drop from the queue exactly what each authenticated ack covers, read what the
# network granted for the scheduler while the link is still up, then take the link down.
# What is not acked stays queued for the next report.
# Every frame carries the device's boot epoch (nbkit.store.epoch); a reply counts only when it
# is authentic AND bound to this very frame (nbkit.proto.frame.check_reply): an ACK clears the
# records it names, an EPOCH answer moves the device to the epoch the collector asks for. A
# replayed old ack, an ack for another device or a forged one clears nothing.
#
# A report never raises for what the modem, the link or the collector does: each failure is
# classified (FAULT_*, kept in last_fault, counted in failures), the link is taken down, and
# report() returns False; the app's scheduler then backs off (app.scheduler). The counters go
# upstream as records (codes.REPORT_FAILED + REPORT_FAULT, codes.UPLINK_RESENT) queued with the
# next report whose link comes up. Only MemoryError (and BaseException) leaves: the
# last-resort handler in app.device saves the state and resets the board.
from binascii import unhexlify

from micropython import const

from nbkit.proto import codes, frame
from nbkit.store.epoch import Epoch

_ACK_WAIT_MS = const(10000)  # a reply needs an RRC round trip; CE2 takes seconds
# Records per frame: 64 encode to about 330 bytes (a BC95 datagram holds 512). It bounds the
# report's heap: the pending records and their decoded form are held at once (about 8 KB at 64;
# a backlog of days at frame.MAX_RECORDS failed with MemoryError on a fragmented heap).
FRAME_RECORDS = const(64)

# Why a report failed (the value of a codes.REPORT_FAULT record; FAULT_NAMES for the log).
FAULT_CME = const(1)  # the modem refused a command (+CME ERROR, ERROR): transient
FAULT_COVERAGE = const(2)  # the link did not come up: not registered, no context, no answer
FAULT_REBOOT = const(3)  # the modem rebooted (REBOOT_CAUSE_*, RDY) and the resend failed too
FAULT_NO_ACK = const(4)  # frames went out, no reply came back
FAULT_REFUSED = const(5)  # replies came, none acked (forged, unbound, a new epoch asked)
FAULT_CRASH = const(6)  # an unexpected error reset the board (app.device's last resort)
FAULT_NAMES = ("", "cme", "no-coverage", "modem-reboot", "no-ack", "refused", "crash")


class Reporter:
    # Base of the apps. cfg: validated config (device_id, key); queue: store.queue.Queue;
    # link: app.link.Link; sched: app.scheduler.Scheduler; log(*args) or None;
    # epoch: nbkit.store.epoch.Epoch (None: epoch 0 in RAM, for tests; app.wiring gives the one
    # on flash).
    max_uplinks = 8  # frames per report; what is left waits for the next report
    frame_records = FRAME_RECORDS  # records per frame (the self-test sends small ones)

    def __init__(self, cfg, queue, link, sched, log=None, *, epoch=None):
        self.cfg = cfg
        self.key = unhexlify(cfg["key"])  # validated: 32 or 64 hex digits
        self.queue = queue
        self.link = link
        self.sched = sched
        self.log = log or _quiet
        self.epoch = epoch or Epoch(None)
        self.last_fault = 0  # FAULT_* of the last failed report (0: none yet)
        self.failures = 0  # failed reports, cumulative (persisted by the app)
        self.failures_sent = 0  # the value of the last REPORT_FAILED record queued
        self.resent = 0  # frames sent again after a modem reboot: possible duplicates
        self.resent_sent = 0

    def report(self):
        # -> True when every pending record was acknowledged. Never raises for a modem, link or
        # collector fault: the failure is classified, logged and counted.
        if not self.queue.counts()["pending"]:
            return True
        modem = getattr(self.link, "modem", None) or _NoModem  # a bare test link has none
        self._boots = None  # the modem's boot count once the link is up (its own boot banner
        self._replies = 0  # and an AT+NRB of the bring-up are no reboot of ours)
        try:
            fault = self._report()
        except MemoryError:
            raise
        except Exception as exc:  # ModemError, LinkError, OSError of the UART: a failed report
            modem.last_error = "%s: %s" % (type(exc).__name__, exc)
            fault = FAULT_CME
        finally:
            self._count_resends()
        if fault and self._boots not in (None, getattr(modem, "boots", 0)):
            fault = FAULT_REBOOT  # the modem rebooted under the send or in the ack wait
        if fault:
            self.failed(fault, modem.last_error)
        return not fault

    def no_cell(self):
        # the last report failed for want of a cell (the scheduler spends fewer alarm retries)
        return self.last_fault == FAULT_COVERAGE

    def failed(self, fault, why=None):
        # Count one failed report of class fault (FAULT_*) and say why.
        self.last_fault = fault
        self.failures += 1
        self.log("report", "failed:", FAULT_NAMES[fault], why or "", "(%d so far)" % self.failures)

    def crashed(self, why):
        # app.device's last resort, before it resets the board: count the crash as a failed
        # report (reported upstream as REPORT_FAULT 6), back the report off (a crash that
        # repeats must not become a reset storm) and save the app's state (its _save()).
        self.failed(FAULT_CRASH, why)
        self.sched.reported(False)
        self._save()

    def _report(self):
        # -> 0 when everything was acked, else the FAULT_* of what went wrong
        modem = getattr(self.link, "modem", None)
        if modem is not None:  # still in the hole the last attempt found: a shorter search
            modem.hole_known = self.sched.failures > 0 and self.no_cell()
        if not self.link.up():
            self.log("report", "no link", self.link.modem.last_error)
            self._radio_off()  # no coverage: a module left searching drains the battery
            return FAULT_COVERAGE
        self._boots = getattr(self.link.modem, "boots", None)
        # schedule by what the network granted, known once the link is up: a send that fails
        # afterwards must not read as "PSM denied" (radio off, a re-attach at every retry)
        self.sched.granted(*self.link.granted())
        self.link.release_early = self.sched.failures > 0 and self.last_fault == FAULT_NO_ACK
        try:
            self._queue_counters()
            ok = self._send_pending()
            self.while_up()
        finally:
            try:
                self.link.down()
            except Exception as exc:  # the report's outcome stands; the next up() starts clean
                self.log("report", "link down:", exc)
        if ok:
            return 0
        if self._cell_lost():  # the cell went away under the report (+CEREG: 2 in the wait)
            self._radio_off()  # a module left searching until the retry drains the battery
            return FAULT_COVERAGE
        return FAULT_REFUSED if self._replies else FAULT_NO_ACK

    def _cell_lost(self):
        # the last +CEREG the modem sent says it is no longer registered (not a reboot's search:
        # that is FAULT_REBOOT, and the module registers again by itself)
        modem = self.link.modem
        reg = getattr(modem, "reg", None)
        if reg is None or reg.stat is None or reg.registered:
            return False
        return getattr(modem, "boots", None) == self._boots

    def _radio_off(self):
        # The radio off (AT+CFUN=0) until the next attempt, which attaches again (backed off).
        off = getattr(self.link.modem, "power_down", None)
        if off is not None:
            try:
                off()
            except Exception as exc:  # the report already failed; the next one starts clean
                self.log("report", "radio off:", exc)

    def _queue_counters(self):
        # The failure and resend counters (cumulative) ride ahead of this report's records.
        clock = getattr(self, "clock", None)
        now = clock.time() if clock is not None else 0
        if self.failures != self.failures_sent:
            self.queue.append(frame.pack_record(now, codes.REPORT_FAILED, self.failures))
            self.queue.append(frame.pack_record(now, codes.REPORT_FAULT, self.last_fault))
            self.failures_sent = self.failures
        if self.resent != self.resent_sent:
            self.queue.append(frame.pack_record(now, codes.UPLINK_RESENT, self.resent))
            self.resent_sent = self.resent

    def _count_resends(self):
        n = getattr(self.link, "resends", 0)
        if n:
            self.resent += n
            self.link.resends = 0

    def counters(self):
        # what the app keeps across deep sleep
        return [self.failures, self.failures_sent, self.resent, self.resent_sent, self.last_fault]

    def restore_counters(self, saved):
        if isinstance(saved, list) and len(saved) == 5:
            self.failures, self.failures_sent, self.resent, self.resent_sent = saved[:4]
            self.last_fault = saved[4]

    def _save(self):
        pass  # the app's state file (app.meter, app.smoke_app)

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
            # the collector answers: the last frame holds the RRC for its ack again (0x400)
            # rather than releasing at once and paying a paging and its inactivity tail
            self.link.release_early = False
        return not self.queue.counts()["pending"]

    def _uplink(self, pending):
        # -> True when an ack bound to this frame cleared records of it
        records = frame.records_from_pending(pending[: self.frame_records])
        data, n = frame.encode_data(
            self.cfg["device_id"], self.key, records, epoch=self.epoch.value
        )
        self.link.send(data, last=n == len(pending), expect_reply=True)  # 0x400 on the last
        self.log("uplink", records[0][0], n, len(data))
        return self._await_answer(data) == frame.ACK

    def _await_answer(self, data):
        # -> the kind of the authentic answer bound to data (frame.ACK, frame.EPOCH) or None.
        # A refused reply (an older ack overtaken on the path, a forged or replayed one) does
        # not end the wait: the frame's own answer may still come within the rest of it.
        clock = getattr(self.link.modem, "clock", None)
        wait = _ACK_WAIT_MS
        start = clock.ticks_ms() if clock is not None else 0
        answer = None
        while answer is None and wait > 0:
            replies = self.link.receive(wait)
            if not replies:
                break  # the wait ran out (or a reboot ended it and the resend got nothing)
            for reply in replies:
                self._replies += 1
                kind = self._reply(reply, data)
                if kind == frame.ACK or answer is None:
                    answer = kind or answer  # an ack counts over an epoch answer
            if clock is None:
                break  # a bare test link: one wait
            wait = _ACK_WAIT_MS - clock.ticks_diff(clock.ticks_ms(), start)
        return answer

    def _reply(self, reply, data):
        # -> frame.ACK (records cleared), frame.EPOCH (epoch moved), None (refused)
        try:
            kind, a, b = frame.check_reply(reply, self.key, data)
        except frame.FrameError as exc:  # forged, another device's, another uplink's: ignored
            self.log("ack refused", exc.reason)
            return None
        if kind == frame.EPOCH:
            if self.epoch.move_to(a):
                self.log("epoch", a, "(the collector holds our sequence numbers: new epoch)")
            return kind
        self.queue.ack_range(a, b)
        self.log("ack", a, b)
        return kind


def _quiet(*args):
    pass


class _NoModem:
    last_error = None
