# Water/gas pulse sources counted by IRQ while the MCU is awake (lightsleep between polls):
# Reed (one reed switch, time-guard debounce) and Quadrature (two sensors: direction and
# magnet evidence). The handlers only bump preallocated array slots; take() on the main loop
# hands the counts to sense.pulse.PulseMeter. A meter that deep-sleeps counts in hardware
# instead (sense.pulse.HwCounter).
from array import array

try:
    import machine

    _disable_irq = getattr(machine, "disable_irq", None)
    _enable_irq = getattr(machine, "enable_irq", None)
except ImportError:
    _disable_irq = None
    _enable_irq = None


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
