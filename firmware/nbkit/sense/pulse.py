# Water/gas pulse counting on the main loop: PulseMeter (registers, persistence, flow alarms)
# over a pulse source: HwCounter (a hardware counter that counts on in deep sleep) here, or the
# IRQ counters Reed and Quadrature (sense.pulse_irq) on a meter that stays in lightsleep.
#
# Persistence scheme (power loss neither loses nor double-counts reported pulses):
# - one record = (write seq, forward, reverse, reported forward, reported reverse) + CRC-16,
#   written alternately to two slots; boot restores the valid record with the highest seq, so
#   a write torn by power loss leaves the previous record in charge.
# - begin_report() persists the registers AND the reported marker in ONE record before it
#   returns the reading the app will queue. Reboot before the queue write: the registers are
#   cumulative, so the next report carries those pulses (none lost; that one delta is folded
#   into the cumulative value, which is what the collector bills on). Reboot after it: the
#   restored marker equals what was queued, so deltas restart from there (none counted twice).
# - between reports the registers are persisted every `persist_every` pulses; flush() is for a
#   brown-out hook. At most persist_every - 1 unreported pulses can be lost on a sudden cut.
# - a hardware counter source (HwCounter: counts on while the MCU deep-sleeps) keeps its own
#   baseline; the baseline goes into the SAME record as the registers it was added to, so a cut
#   between the two can neither add a delta twice nor lose it.
import struct

from micropython import const

from nbkit.sense.events import Event

# event names (the lead maps them to codes in nbkit.proto.codes)
EV_LEAK = "leak"
EV_LEAK_CLEAR = "leak_clear"
EV_BURST = "burst"
EV_BURST_CLEAR = "burst_clear"
EV_NO_FLOW = "no_flow"
EV_FLOW_RESUMED = "flow_resumed"
EV_REVERSE = "reverse_flow"
EV_REVERSE_CLEAR = "reverse_flow_clear"
EV_MAGNET = "magnet_tamper"
EV_MAGNET_CLEAR = "magnet_tamper_clear"

_MINUTE = const(60000)
_HOUR = const(3600000)
_DAY = const(86400000)


def crc16(data):
    # CRC-16/CCITT-FALSE
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


# record: write seq, forward, reverse, reported forward, reported reverse, the source's 3 mark
# fields (HwCounter baseline; zeros for IRQ sources), then CRC-16 of those 32 bytes
_REC = const("<IIIIIIII")
_BODY = const(32)
_REC_SIZE = const(34)


def pack_record(seq, fwd, rev, rep_fwd, rep_rev, *, mark=(0, 0, 0)):
    body = struct.pack(_REC, seq, fwd, rev, rep_fwd, rep_rev, mark[0], mark[1], mark[2])
    return body + struct.pack("<H", crc16(body))


def unpack_record(raw):
    # -> (seq, fwd, rev, rep_fwd, rep_rev, mark0, mark1, mark2) or None when missing, short or
    # corrupt
    if not raw or len(raw) != _REC_SIZE:
        return None
    body = raw[:_BODY]
    if struct.unpack("<H", raw[_BODY:])[0] != crc16(body):
        return None
    return struct.unpack(_REC, body)


class HwCounter:
    # Pulses counted by hardware that keeps counting while the MCU deep-sleeps (ESP32 ULP,
    # STM32 LPTIM, the virtual board's host-side counter): pins whose `falling` attribute is the
    # cumulative count of falling edges since the counter was powered. pin_rev (optional): a
    # second counter of reverse pulses (a quadrature decoder's down count).
    # The baseline (what was already taken) is persisted by PulseMeter with the registers:
    # mark() -> the 3 record fields, set_mark() on restore. A count below its baseline means the
    # counter restarted (power-up): everything it holds is new.
    def __init__(self, pin_fwd, pin_rev=None):
        self.pins = (pin_fwd, pin_rev)
        self.base = [0, 0]

    def _delta(self, i):
        pin = self.pins[i]
        if pin is None:
            return 0
        now = pin.falling
        new = now - self.base[i] if now >= self.base[i] else now
        self.base[i] = now
        return new

    def take(self):
        return self._delta(0), self._delta(1), 0

    def mark(self):
        return self.base[0], self.base[1], 0

    def set_mark(self, mark):
        self.base[0], self.base[1] = mark[0], mark[1]


class SlotFiles:
    # The two persistence slots as two files (littlefs on a board, any fs on the unix port).
    # Interface the meter needs: load(slot) -> bytes or None, save(slot, data).
    def __init__(self, path_a, path_b):
        self.paths = (path_a, path_b)

    def load(self, slot):
        try:
            with open(self.paths[slot], "rb") as f:
                return f.read(64)
        except OSError:
            return None

    def save(self, slot, data):
        with open(self.paths[slot], "wb") as f:
            f.write(data)


class Reading:
    def __init__(self, seq, forward, reverse, d_forward, d_reverse):
        self.seq = seq
        self.forward = forward
        self.reverse = reverse
        self.d_forward = d_forward
        self.d_reverse = d_reverse

    def net(self):
        return self.forward - self.reverse

    def __repr__(self):
        return "<pulses #%d fwd=%d rev=%d (+%d/+%d)>" % (
            self.seq,
            self.forward,
            self.reverse,
            self.d_forward,
            self.d_reverse,
        )


# What PulseMeter.state() saves and restore() puts back across a deep sleep (RAM is lost): the
# times (ms of the meter's clock, which must then be the RTC: nbkit.hal.clock.RtcMs) first.
_TIMES = (
    "last_poll",
    "last_pulse",
    "last_flow",
    "last_quiet",
    "win_start",
    "last_rev",
    "last_magnet",
)
_WINDOWS = _TIMES + (
    "win_count",
    "over",
    "under",
    "rev_pending",
    "leak",
    "burst",
    "noflow",
    "reversing",
    "magnet",
)


class PulseMeter:
    # Main-loop side: poll() at least once a minute, or at every wake of a deep-sleeping meter
    # with a HwCounter source; it returns a list of Event. Times in ms of `clock`.
    # Flow: a poll span whose rate is above leak_rate pulses/h (0: any pulse) is flowing.
    # Leak: no quiet (not flowing) window of leak_quiet_ms within leak_window_ms; cleared by the
    # next full quiet window. Burst: burst_windows consecutive windows of >= burst_window_ms
    # at >= burst_rate pulses/h; cleared by as many windows below burst_clear_rate. No-flow: no
    # pulse for noflow_ms; cleared by the next pulse. Reverse: reverse_pulses reverse pulses;
    # cleared after reverse_clear_ms without any. Magnet: field pin active (field_active level)
    # or double switching; cleared after magnet_clear_ms without evidence.
    def __init__(self, source, clock, store=None, field_pin=None, **cfg):
        self.source = source
        self.clock = clock
        self.store = store
        self.field_pin = field_pin
        self.field_active = cfg.get("field_active", 0)
        self.persist_every = cfg.get("persist_every", 10)
        self.leak_rate = cfg.get("leak_rate", 0)
        self.leak_quiet_ms = cfg.get("leak_quiet_ms", 30 * _MINUTE)
        self.leak_window_ms = cfg.get("leak_window_ms", _DAY)
        self.burst_window_ms = cfg.get("burst_window_ms", _MINUTE)
        self.burst_rate = cfg.get("burst_rate", 3000)
        self.burst_clear_rate = cfg.get("burst_clear_rate", 2000)
        self.burst_windows = cfg.get("burst_windows", 5)
        self.noflow_ms = cfg.get("noflow_ms", 7 * _DAY)
        self.reverse_pulses = cfg.get("reverse_pulses", 1)
        self.reverse_clear_ms = cfg.get("reverse_clear_ms", _HOUR)
        self.magnet_clear_ms = cfg.get("magnet_clear_ms", 10 * _MINUTE)
        self.forward = self.reverse = self.rep_forward = self.rep_reverse = 0
        self.wseq = 0
        self.report_seq = 0
        self._restore()
        self._saved_total = self.forward + self.reverse
        self._saved_mark = self._mark()
        now = clock.ticks_ms()
        self.last_poll = self.last_pulse = self.last_flow = self.last_quiet = now
        self.win_start = self.last_rev = self.last_magnet = now  # every name in _TIMES
        self.win_count = self.over = self.under = self.rev_pending = 0
        self.leak = self.burst = self.noflow = self.reversing = self.magnet = False

    def state(self):
        # The detection windows and alarm flags (registers live in the store's records).
        return tuple(getattr(self, name) for name in _WINDOWS)

    def restore(self, state):
        # -> False (windows start afresh from now) when the state does not fit: another
        # layout, or times ahead of the clock (the RTC was reset by a power loss)
        now = self.clock.ticks_ms()
        if len(state) != len(_WINDOWS):
            return False
        for i in range(len(_TIMES)):
            if self.clock.ticks_diff(now, state[i]) < 0:
                return False
        for i, name in enumerate(_WINDOWS):
            setattr(self, name, state[i])
        return True

    def _restore(self):
        if self.store is None:
            return
        best = None
        for slot in (0, 1):
            rec = unpack_record(self.store.load(slot))
            if rec is not None and (best is None or rec[0] > best[0]):
                best = rec
        if best is not None:
            self.wseq, self.forward, self.reverse, self.rep_forward, self.rep_reverse = best[:5]
            if hasattr(self.source, "set_mark"):
                self.source.set_mark(best[5:])

    def _persist(self):
        if self.store is None:
            return
        self.wseq += 1
        mark = self._mark()
        rec = pack_record(
            self.wseq, self.forward, self.reverse, self.rep_forward, self.rep_reverse, mark=mark
        )
        self.store.save(self.wseq & 1, rec)
        self._saved_total = self.forward + self.reverse
        self._saved_mark = mark

    def _mark(self):
        return tuple(self.source.mark()) if hasattr(self.source, "mark") else (0, 0, 0)

    def flush(self):
        # Persist now (brown-out / low-voltage hook, or before a planned power-off or a deep
        # sleep with a hardware counter source).
        if self.forward + self.reverse != self._saved_total or self._mark() != self._saved_mark:
            self._persist()

    def begin_report(self):
        # The reading to queue; registers and reported marker are persisted atomically first.
        self.poll_counts()
        r = Reading(
            self.wseq + 1,
            self.forward,
            self.reverse,
            self.forward - self.rep_forward,
            self.reverse - self.rep_reverse,
        )
        self.rep_forward = self.forward
        self.rep_reverse = self.reverse
        self._persist()
        return r

    def poll_counts(self):
        f, r, jumps = self.source.take()
        self.forward += f
        self.reverse += r
        if self.forward + self.reverse - self._saved_total >= self.persist_every:
            self._persist()
        return f, r, jumps

    def poll(self):
        f, r, jumps = self.poll_counts()
        now = self.clock.ticks_ms()
        span = self.clock.ticks_diff(now, self.last_poll)
        self.last_poll = now
        events = []  # type: list
        self._flow(now, f + r, span, events)
        self._burst(now, f + r, events)
        self._reverse(now, r, events)
        self._magnet(now, jumps, events)
        return events

    def _ev(self, events, name, value, urgent=False):
        # urgent: an alarm raised (leak, burst, no flow, reverse flow, magnet), which the app
        # reports at once, as meters in the field do; its clearing goes with the next report
        events.append(Event(name, value, urgent, self.clock.ticks_ms()))

    def _flow(self, now, n, span, events):
        diff = self.clock.ticks_diff
        if n:
            self.last_pulse = now
            if self.noflow:
                self.noflow = False
                self._ev(events, EV_FLOW_RESUMED, n)
        if n and n * _HOUR > self.leak_rate * span:
            self.last_flow = now
        quiet = diff(now, self.last_flow)
        if quiet >= self.leak_quiet_ms:
            self.last_quiet = now
            if self.leak:
                self.leak = False
                self._ev(events, EV_LEAK_CLEAR, quiet // _MINUTE)
        since = diff(now, self.last_quiet)
        if not self.leak and since >= self.leak_window_ms:
            self.leak = True
            self._ev(events, EV_LEAK, since // _MINUTE, True)
        dry = diff(now, self.last_pulse)
        if not self.noflow and dry >= self.noflow_ms:
            self.noflow = True
            self._ev(events, EV_NO_FLOW, dry // _HOUR, True)

    def _burst(self, now, n, events):
        self.win_count += n
        span = self.clock.ticks_diff(now, self.win_start)
        if span < self.burst_window_ms:
            return
        rate = self.win_count * _HOUR // span
        self.win_count = 0
        self.win_start = now
        self.over = self.over + 1 if rate >= self.burst_rate else 0
        self.under = self.under + 1 if rate < self.burst_clear_rate else 0
        if not self.burst and self.over >= self.burst_windows:
            self.burst = True
            self._ev(events, EV_BURST, rate, True)
        elif self.burst and self.under >= self.burst_windows:
            self.burst = False
            self._ev(events, EV_BURST_CLEAR, rate)

    def _reverse(self, now, r, events):
        if r:
            self.last_rev = now
            self.rev_pending += r
            if not self.reversing and self.rev_pending >= self.reverse_pulses:
                self.reversing = True
                self._ev(events, EV_REVERSE, self.reverse, True)
        elif self.reversing and self.clock.ticks_diff(now, self.last_rev) >= self.reverse_clear_ms:
            self.reversing = False
            self.rev_pending = 0
            self._ev(events, EV_REVERSE_CLEAR, self.reverse)

    def _magnet(self, now, jumps, events):
        field = self.field_pin is not None and self.field_pin.value() == self.field_active
        if jumps or field:
            self.last_magnet = now
            if not self.magnet:
                self.magnet = True
                self._ev(events, EV_MAGNET, 1 if field else 2, True)
        elif self.magnet and self.clock.ticks_diff(now, self.last_magnet) >= self.magnet_clear_ms:
            self.magnet = False
            self._ev(events, EV_MAGNET_CLEAR, 0)
