# The one scheduler: decides when the device wakes next and why. Pure logic on a Clock (RTC
# seconds via clock.time(), so deadlines survive a deep sleep); nothing here sleeps or talks to
# the modem. The application loop is:
#
#   wake_at, reasons = sched.next_wake()
#   ... sleep until wake_at (hal.sleep), then for each reason do the work and tell the scheduler:
#   sched.sampled() / sched.reported(ok, no_cell) / sched.radio_used()
#
# Inputs: sampling interval, report interval, heartbeat (an uplink at least every heartbeat_s),
# retry backoff with bounded jitter (PRNG injectable), immediate events (an alarm bypasses every
# schedule and every backoff of regular reports, retrying on its own short backoff for at most
# _EVENT_TRIES attempts; then its records wait for the regular retries) and the PSM timers the
# network GRANTED: a report
# due shortly after the next periodic TAU is moved just before it, so the uplink restarts T3412 and
# the modem does not wake twice.
try:
    from micropython import const
except ImportError:

    def const(x):  # type: ignore[misc]
        return x


SAMPLE = "sample"
REPORT = "report"
HEARTBEAT = "heartbeat"
RETRY = "retry"
TAU_ALIGN = "tau-align"  # added to REPORT/HEARTBEAT when moved before the periodic TAU

_MAX_EVENTS = const(4)  # distinct pending immediate events (one report serves them all)
_TAU_GUARD_S = const(30)  # a TAU-aligned report goes this long before the TAU is due
_EVENT_TRIES = const(6)  # failed attempts on the event backoff before events join the regular one
EVENT_TRIES = _EVENT_TRIES  # (no_cell_tries=EVENT_TRIES: an event searches once in a hole)


# What state() saves and restore() puts back, in this order (saved states keep their meaning).
_PERSISTED = const(
    (
        "last_sample",
        "last_report",
        "last_uplink",
        "radio_idle_at",
        "failures",
        "retry_at",
        "psm",
        "active_s",
        "tau_s",
        "events",
        "event_failures",
        "event_retry_at",
    )
)
_PERSISTED_V1 = const(9)  # fields of a state saved before the events were kept


class Xorshift32:
    # Small seeded PRNG (same sequence on MicroPython and CPython): below(n) in [0, n).
    def __init__(self, seed=1):
        self.state = (seed & 0xFFFFFFFF) or 1

    def below(self, n):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x % n if n > 0 else 0


class Scheduler:
    # report_s: regular report interval (0 = none, e.g. a smoke sensor: events + heartbeat only)
    # sample_s: sensor sampling interval (0 = none); heartbeat_s: max silence (0 = none)
    # backoff_base_s/backoff_max_s: retry delay doubles from base up to max; jitter_pct: the delay
    #   is shortened by a random 0..jitter_pct % (never longer than the bound)
    # event_retry_s/event_retry_max_s: the (short) backoff of a failed immediate event
    # no_cell_tries: how many of its tries an event's attempt that found no cell spends
    # no_cell_max_s: the backoff cap after a failure for want of a cell (default backoff_max_s):
    #   only a search can tell that the cell is back, and each costs a search's charge
    # align_s: how far a report may move earlier to merge with the TAU (default report_s // 10)
    # coalesce_s: work due within this many seconds after the earliest is done in the same wake
    # phase_s: regular reports go phase_s after each report slot's start (0 <= phase_s < report_s)
    def __init__(
        self,
        clock,
        report_s,
        *,
        sample_s=0,
        heartbeat_s=0,
        backoff_base_s=60,
        backoff_max_s=3600,
        jitter_pct=25,
        rng=None,
        event_retry_s=10,
        event_retry_max_s=120,
        no_cell_tries=2,
        no_cell_max_s=None,
        align_s=None,
        coalesce_s=2,
        phase_s=0,
    ):
        if report_s < 0 or sample_s < 0 or heartbeat_s < 0:
            raise ValueError("intervals cannot be negative")
        if not 0 < backoff_base_s <= backoff_max_s or not 0 <= jitter_pct < 100:
            raise ValueError("need 0 < backoff_base_s <= backoff_max_s and 0 <= jitter_pct < 100")
        if no_cell_max_s is not None and no_cell_max_s < backoff_max_s:
            raise ValueError("need no_cell_max_s >= backoff_max_s")
        if report_s == 0 and heartbeat_s == 0:
            raise ValueError("set report_s or heartbeat_s: the device would never report")
        self.clock = clock
        self.report_s = report_s
        self.sample_s = sample_s
        self.heartbeat_s = heartbeat_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.jitter_pct = jitter_pct
        self.rng = rng or Xorshift32(clock.time())
        self.event_retry_s = event_retry_s
        self.event_retry_max_s = event_retry_max_s
        self.no_cell_tries = no_cell_tries
        self.no_cell_max_s = backoff_max_s if no_cell_max_s is None else no_cell_max_s
        self.align_s = report_s // 10 if align_s is None else align_s
        self.coalesce_s = coalesce_s
        self.phase_s = phase_s % report_s if report_s else 0
        now = clock.time()
        self.last_sample = now
        self.last_report = now
        self.last_uplink = now
        self.radio_idle_at = now
        self.failures = 0
        self.retry_at = None
        self.events = []
        self.event_failures = 0
        self.event_retry_at = None
        self.psm = False
        self.tau_s = None
        self.active_s = None

    # --- inputs ---------------------------------------------------------------------------

    # The PSM timers the network granted (psm.grant()); schedule by these, never the request.
    def granted(self, psm_granted, active_s, tau_s):
        self.psm = bool(psm_granted)
        self.active_s = active_s if psm_granted else None
        self.tau_s = tau_s if psm_granted else None

    # An immediate event (e.g. "alarm"): the next wake is now, whatever else is pending.
    def event(self, reason):
        if reason not in self.events and len(self.events) < _MAX_EVENTS:
            self.events.append(reason)
        self.event_retry_at = None
        self.event_failures = 0

    # Sampling keeps to fixed slots (:00, :15, ... for 900 s): a slow wake never shifts the
    # readings that follow it, so a day always holds 86400 / sample_s readings.
    def sampled(self):
        now = self.clock.time()
        self.last_sample = now - now % self.sample_s if self.sample_s else now

    # An uplink attempt finished: ok clears retries and pending events; a failure backs off.
    # no_cell: it failed for want of a cell, after a whole attach timeout of searching (the
    # dearest failure there is): it spends no_cell_tries of an event's _EVENT_TRIES (a meter:
    # all of them, so an alarm raised in a coverage hole searches once and then joins the
    # regular backoff; a smoke detector: 1, every try).
    def reported(self, ok, no_cell=False):
        now = self.clock.time()
        if ok:
            # the report slot this one served: a slow report does not delay the next one
            off = self.phase_s
            self.last_report = now - (now - off) % self.report_s if self.report_s else now
            self.last_uplink = self.radio_idle_at = now
            self.failures = 0
            self.retry_at = None
            self.events = []
            self.event_failures = 0
            self.event_retry_at = None
            return
        self.failures += 1
        cap = self.no_cell_max_s if no_cell else self.backoff_max_s
        self.retry_at = now + self.backoff_s(self.failures, cap)
        if self.events:
            self.event_failures += self.no_cell_tries if no_cell else 1
            if self.event_failures >= _EVENT_TRIES:  # its budget spent: the records stay queued
                self.events = []  # and go with the regular (longer) retries from now on
                self.event_failures = 0
                self.event_retry_at = None
                return
            delay = self.event_retry_s << min(self.event_failures - 1, 16)
            self.event_retry_at = now + min(delay, self.event_retry_max_s)

    # Any other radio activity (a TAU seen, a downlink): T3412 restarts from now.
    def radio_used(self):
        self.radio_idle_at = self.clock.time()

    # --- decisions ------------------------------------------------------------------------

    # Retry delay after n consecutive failures: min(cap, base * 2^(n-1)) shortened by a random
    # 0..jitter_pct %; always within [bound * (100 - jitter_pct) / 100, bound]. cap: backoff_max_s
    # unless given (no_cell_max_s after a search that found no cell).
    def backoff_s(self, n, cap=None):
        cap = self.backoff_max_s if cap is None else cap
        bound = min(cap, self.backoff_base_s << min(max(n, 1) - 1, 24))
        spread = bound * self.jitter_pct // 100
        return bound - self.rng.below(spread + 1)

    def _tau_aligned(self, due):
        # due time, or just before the next TAU when due falls shortly after it
        if not self.psm or not self.tau_s:
            return due, False
        tau_at = self.radio_idle_at + self.tau_s
        if tau_at < due <= tau_at + self.align_s:
            return max(tau_at - _TAU_GUARD_S, self.radio_idle_at), True
        return due, False

    def _candidates(self):
        out = []
        if self.sample_s:
            out.append((self.last_sample + self.sample_s, SAMPLE))
        if self.failures:
            out.append((self.retry_at, RETRY))
            return out
        if self.report_s:
            due, moved = self._tau_aligned(self.last_report + self.report_s)
            out.append((due, REPORT))
            if moved:
                out.append((due, TAU_ALIGN))
        if self.heartbeat_s:
            due, moved = self._tau_aligned(self.last_uplink + self.heartbeat_s)
            out.append((due, HEARTBEAT))
            if moved:
                out.append((due, TAU_ALIGN))
        return out

    # -> (wake_at in RTC seconds, list of reasons). Immediate events come first and are due now
    # (or at their own short retry time after a failed attempt), bypassing any regular backoff.
    def next_wake(self):
        now = self.clock.time()
        if self.events:
            at = now if self.event_retry_at is None else max(now, self.event_retry_at)
            reasons = list(self.events)
            for due, why in self._candidates():
                if due <= at + self.coalesce_s and why not in reasons:
                    reasons.append(why)
            return at, reasons
        cands = self._candidates()
        first = min(due for due, _ in cands)
        reasons = []
        for due, why in cands:
            if due <= first + self.coalesce_s and why not in reasons:
                reasons.append(why)
        return max(first, now), reasons

    # milliseconds from now until wake_at (0 when already due)
    def ms_until(self, wake_at):
        return max(0, wake_at - self.clock.time()) * 1000

    # --- persistence across deep sleep (RAM is lost; keep this in RTC memory or the store) ---

    def state(self):
        return tuple(getattr(self, name) for name in _PERSISTED)

    def restore(self, state):
        # a state saved before the events were kept (9 fields) restores with no pending event
        if len(state) not in (_PERSISTED_V1, len(_PERSISTED)):
            raise ValueError(
                "scheduler state has %d fields, expected %d" % (len(state), len(_PERSISTED))
            )
        for i, name in enumerate(_PERSISTED[: len(state)]):
            setattr(self, name, state[i])
        self.events = [str(why) for why in self.events][:_MAX_EVENTS]
