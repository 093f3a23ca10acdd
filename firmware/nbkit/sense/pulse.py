# Water/gas pulse counting: IRQ-side counters (Reed, Quadrature) that only bump preallocated
# array slots, and PulseMeter on the main loop: registers, persistence, flow alarms.
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
import struct
from array import array

from micropython import const

from nbkit.sense.events import Event

try:
    import machine

    _disable_irq = getattr(machine, "disable_irq", None)
    _enable_irq = getattr(machine, "enable_irq", None)
except ImportError:
    _disable_irq = None
    _enable_irq = None

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


def _atomic_take(slots, first, n, out):
    # Copies slots[first:first+n] into out and zeroes them with IRQs disabled.
    state = _disable_irq() if _disable_irq else None
    for i in range(n):
        out[i] = slots[first + i]
        slots[first + i] = 0
    if _enable_irq:
        _enable_irq(state)
    return out


class Reed:
    # One reed switch; an edge within guard_ms of the previous edge is contact bounce.
    # slots: [pulses, last edge ms, edges seen]
    def __init__(self, pin, clock, guard_ms=30):
        self.pin = pin
        self.clock = clock
        self.guard_ms = guard_ms
        self.slots = array("i", [0, clock.ticks_add(clock.ticks_ms(), -guard_ms), 0])
        self._out = array("i", [0])

    def attach(self, trigger, **kw):
        # trigger: the board's Pin.IRQ_FALLING (or RISING) value; kw e.g. hard=True (the
        # handler allocates nothing, so a hard IRQ is allowed)
        self.pin.irq(handler=self.irq, trigger=trigger, **kw)

    def irq(self, pin):
        # IRQ handler: allocates nothing (array slot writes of small ints only).
        s = self.slots
        t = self.clock.ticks_ms()
        s[2] += 1
        if self.clock.ticks_diff(t, s[1]) >= self.guard_ms:
            s[0] += 1
        s[1] = t

    def take(self):
        # Main loop: (forward, reverse, tamper evidence) since the last take.
        _atomic_take(self.slots, 0, 1, self._out)
        return self._out[0], 0, 0


# Quadrature: state = A << 1 | B, forward order 00 -> 10 -> 11 -> 01 -> 00 (A leads B).
# Transition table prev * 4 + cur -> 0 none, 1 forward step, 2 backward step, 3 both changed.
_POS = (0, 3, 1, 2)  # position of state 00, 01, 10, 11 in the forward order
_TT = bytes((0, 1, 3, 2)[(_POS[c] - _POS[p]) % 4] for p in range(4) for c in range(4))


class Quadrature:
    # Two sensors over a half-disk target: a full cycle of 4 steps is one pulse, forward or
    # reverse. Both sensors switching in one step cannot come from rotation: it is counted as
    # magnetic-field evidence (an external magnet saturating both sensors at once).
    # slots: [state, step accumulator, forward, reverse, double-switch count]
    def __init__(self, pin_a, pin_b, active_low=True):
        self.a = pin_a
        self.b = pin_b
        self.inv = 1 if active_low else 0
        self.slots = array("i", [self._state(), 0, 0, 0, 0])
        self._out = array("i", [0, 0, 0])

    def _state(self):
        return (self.a.value() ^ self.inv) << 1 | (self.b.value() ^ self.inv)

    def attach(self, trigger, **kw):
        # trigger: the board's Pin.IRQ_RISING | Pin.IRQ_FALLING value (both edges)
        self.a.irq(handler=self.irq, trigger=trigger, **kw)
        self.b.irq(handler=self.irq, trigger=trigger, **kw)

    def irq(self, pin):
        # IRQ handler of both pins: allocates nothing.
        s = self.slots
        cur = (self.a.value() ^ self.inv) << 1 | (self.b.value() ^ self.inv)
        k = _TT[s[0] * 4 + cur]
        if k == 1:
            s[1] += 1
            if s[1] >= 4:
                s[1] = 0
                s[2] += 1
        elif k == 2:
            s[1] -= 1
            if s[1] <= -4:
                s[1] = 0
                s[3] += 1
        elif k == 3:
            s[4] += 1
        s[0] = cur

    def take(self):
        o = _atomic_take(self.slots, 2, 3, self._out)
        return o[0], o[1], o[2]


def crc16(data):
    # CRC-16/CCITT-FALSE
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


_REC = "<IIIII"
_REC_SIZE = const(22)


def pack_record(seq, fwd, rev, rep_fwd, rep_rev):
    body = struct.pack(_REC, seq, fwd, rev, rep_fwd, rep_rev)
    return body + struct.pack("<H", crc16(body))


def unpack_record(raw):
    # -> (seq, fwd, rev, rep_fwd, rep_rev) or None when missing, short or corrupt
    if not raw or len(raw) != _REC_SIZE:
        return None
    body = raw[:20]
    if struct.unpack("<H", raw[20:22])[0] != crc16(body):
        return None
    return struct.unpack(_REC, body)


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


class PulseMeter:
    # Main-loop side: poll() at least once a minute; it returns a list of Event.
    # Times in ms. Leak: no zero-flow window of leak_quiet_ms within leak_window_ms; cleared
    # by the next full quiet window. Burst: burst_windows consecutive windows of burst_window_ms
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
        now = clock.ticks_ms()
        self.last_flow = self.last_quiet = self.win_start = self.last_rev = now
        self.last_magnet = now
        self.win_count = self.over = self.under = self.rev_pending = 0
        self.leak = self.burst = self.noflow = self.reversing = self.magnet = False

    def _restore(self):
        if self.store is None:
            return
        best = None
        for slot in (0, 1):
            rec = unpack_record(self.store.load(slot))
            if rec is not None and (best is None or rec[0] > best[0]):
                best = rec
        if best is not None:
            self.wseq, self.forward, self.reverse, self.rep_forward, self.rep_reverse = best

    def _persist(self):
        if self.store is None:
            return
        self.wseq += 1
        rec = pack_record(
            self.wseq, self.forward, self.reverse, self.rep_forward, self.rep_reverse
        )
        self.store.save(self.wseq & 1, rec)
        self._saved_total = self.forward + self.reverse

    def flush(self):
        # Persist now (brown-out / low-voltage hook, or before a planned power-off).
        if self.forward + self.reverse != self._saved_total:
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
        events = []  # type: list
        self._flow(now, f + r, events)
        self._burst(now, f + r, events)
        self._reverse(now, r, events)
        self._magnet(now, jumps, events)
        return events

    def _ev(self, events, name, value, urgent=False):
        events.append(Event(name, value, urgent, self.clock.ticks_ms()))

    def _flow(self, now, n, events):
        diff = self.clock.ticks_diff
        if n:
            self.last_flow = now
            if self.noflow:
                self.noflow = False
                self._ev(events, EV_FLOW_RESUMED, n)
        quiet = diff(now, self.last_flow)
        if quiet >= self.leak_quiet_ms:
            self.last_quiet = now
            if self.leak:
                self.leak = False
                self._ev(events, EV_LEAK_CLEAR, quiet // _MINUTE)
        since = diff(now, self.last_quiet)
        if not self.leak and since >= self.leak_window_ms:
            self.leak = True
            self._ev(events, EV_LEAK, since // _MINUTE)
        if not self.noflow and quiet >= self.noflow_ms:
            self.noflow = True
            self._ev(events, EV_NO_FLOW, quiet // _HOUR)

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
                self._ev(events, EV_REVERSE, self.reverse)
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
