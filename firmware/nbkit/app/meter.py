# Water/gas meter application. One call of wake() is one wake of the device:
#   0. meters with alarms (app.water): append what was raised since the last wake; an urgent
#      one (burst, magnet) makes a report due now;
#   1. sample the meter when due and append the reading to the durable queue (on flash);
#   2. report when due (app.uplink: the report loop every app shares): send every pending
#      record in as few uplinks as fit, drop what the collector's authenticated ack covers,
#      keep the rest for the next report;
#   3. return how long to sleep; the caller deep-sleeps the board (RAM is lost).
# The scheduler's deadlines are saved to flash at every wake, so they survive the deep sleep.
# Sampling is sacred: the sample is taken and its slot saved BEFORE the radio is touched, a
# report never raises (app.uplink classifies every modem/link/collector failure; the scheduler
# backs off with jitter, persisted here), and a slot that came due while a slow report ran is
# sampled before the wake ends. Sample and report deadlines are independent in the scheduler.
from micropython import const

from nbkit.app import scheduler as sch
from nbkit.app.uplink import Reporter
from nbkit.proto import codes, frame
from nbkit.store import statefile

_STATE_VERSION = const(1)
_DAY_S = const(86400)
_NOT_A_REPORT = (sch.SAMPLE, sch.TAU_ALIGN)


class MeterApp(Reporter):
    # cfg: validated config (nbkit.store.config); clock: RTC seconds via clock.time();
    # queue: nbkit.store.queue.Queue; meter: read() -> [(code, value)], optionally events() ->
    # [(code, value, urgent)], state()/restore(state) and wake_pins(); link: app.link.Link;
    # epoch: nbkit.store.epoch.Epoch (None: epoch 0 in RAM, for tests).
    def __init__(
        self, cfg, clock, queue, meter, link, *, state_path="meter.state", log=None, epoch=None
    ):
        sched = sch.Scheduler(
            clock,
            cfg["report_interval_s"],
            sample_s=cfg["read_interval_s"],
            backoff_base_s=min(300, cfg["report_interval_s"]),
            backoff_max_s=cfg["report_interval_s"],
            # in a coverage hole only a search finds the cell back: every third report slot
            # (at most a day); an alarm raised there searches once, then its records wait
            # with the rest (they are queued: nothing is lost)
            no_cell_max_s=max(cfg["report_interval_s"], min(_DAY_S, 3 * cfg["report_interval_s"])),
            no_cell_tries=sch.EVENT_TRIES,
            phase_s=cfg.get("report_phase_s", 0),
        )
        super().__init__(cfg, queue, link, sched, log, epoch=epoch)
        self.clock = clock
        self.meter = meter
        self.state_path = state_path
        self.reported_dropped = 0
        self._load()

    # -- one wake ------------------------------------------------------------------------

    def wake(self):
        # Do what is due now -> milliseconds until the next wake.
        self.events()
        wake_at, reasons = self.sched.next_wake()
        if wake_at <= self.clock.time():
            if sch.SAMPLE in reasons:
                self.sample()
            if [why for why in reasons if why not in _NOT_A_REPORT]:  # report, retry, events
                self._save()  # the sample's slot is on flash before the radio is touched
                ok = self.report()
                self.sched.reported(ok, no_cell=not ok and self.no_cell())
                self.events()  # what the meter raised while the report ran
                if self._sample_due():  # a slow report ran into the next slot: take it now
                    self.sample()
            wake_at, reasons = self.sched.next_wake()
        self._save()  # every wake: the first one starts the schedule that later wakes follow
        return self.sched.ms_until(wake_at)

    def _sample_due(self):
        s = self.sched
        return s.sample_s and s.last_sample + s.sample_s <= self.clock.time()

    def booted(self, cause):
        # Power-on (not a wake from deep sleep): report at once, so the modem is configured and
        # in PSM from the start instead of idling until the first scheduled report.
        seq = self.queue.append(frame.pack_record(self.clock.time(), codes.BOOT, cause))
        self.log("event", seq, "boot", cause)
        if not self.sched.failures:  # while reports back off (a crash reset among them), the
            self.sched.event("boot")  # boot record waits for the next retry: no reset storm

    @property
    def wake_pins(self):
        # pin levels that end the deep sleep early (device.run), or None
        return self.meter.wake_pins() if hasattr(self.meter, "wake_pins") else None

    def events(self):
        # Durable first: each alarm is on the queue before anything tries to send it.
        if not hasattr(self.meter, "events"):
            return
        now = self.clock.time()
        for code, value, urgent in self.meter.events():
            seq = self.queue.append(frame.pack_record(now, code, value))
            self.log("event", seq, codes.name(code), value, "URGENT" if urgent else "")
            if urgent:
                self.sched.event(codes.name(code))

    def sample(self):
        # The sample's records go in one commit: a power cut leaves all of them or none, and
        # _load() takes a sample found on the queue as its slot taken (see _sampled_before_cut).
        now = self.clock.time()
        readings = self.meter.read()
        if readings:
            seq = self.queue.append_all([frame.pack_record(now, c, v) for c, v in readings])
            for code, value in readings:
                self.log("read", seq, codes.name(code), value, "t=%d" % now)
                seq += 1
        dropped = self.queue.counts()["dropped"]
        if dropped > self.reported_dropped:  # the queue was full: say so upstream
            self.queue.append(frame.pack_record(now, codes.QUEUE_DROPPED, dropped))
            self.reported_dropped = dropped
        self.sched.sampled()

    # -- state across deep sleep ------------------------------------------------------------

    def _load(self):
        state = statefile.load(self.state_path, _STATE_VERSION)
        if state is None:
            return  # first boot, a torn file or another firmware's: start the schedule from now
        try:
            self.sched.restore(tuple(state["sched"]))
        except (KeyError, TypeError, ValueError) as exc:
            self.log("state", "schedule starts afresh:", exc)
        self.reported_dropped = state.get("dropped", 0)
        self.restore_counters(state.get("rep"))
        if "meter" in state and hasattr(self.meter, "restore"):
            self.meter.restore(tuple(state["meter"]))
        self._sampled_before_cut()

    def _sampled_before_cut(self):
        # The power failed after a sample reached the queue and before its slot reached the
        # state file: the newest record is a reading of a slot later than the saved one. Its
        # slot counts as taken (sampling it again would store the reading twice).
        newest = self.queue.newest()
        s = self.sched
        if newest is None or not s.sample_s:
            return
        t, code, _ = frame.unpack_record(newest[1])
        if not codes.is_event(code) and t - t % s.sample_s > s.last_sample:
            s.last_sample = t - t % s.sample_s
            self.log("state", "slot of reading", newest[0], "taken before a power cut")

    def _save(self):
        state = {"sched": list(self.sched.state()), "dropped": self.reported_dropped}
        state["rep"] = self.counters()
        if hasattr(self.meter, "state"):
            state["meter"] = list(self.meter.state())
        statefile.save(self.state_path, _STATE_VERSION, state)
