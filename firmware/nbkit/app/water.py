# Water/gas pulse meter for MeterApp (profile "water"): the index from a hardware pulse counter
# that counts on while the MCU deep-sleeps, and the flow alarms of sense.pulse.PulseMeter
# (leak, burst, no-flow, reverse flow, magnet tamper) on windows kept in RTC time, so they
# survive the deep sleep between wakes.
#   events() every wake     -> [(code, value, urgent)]: alarms raised or cleared since last wake
#   read() at sample slots  -> [(code, value)]: the forward index in litres, and the reverse
#                              one once reverse flow was seen; the registers and the counter
#                              baseline are on flash before it returns
#   state()/restore()       the detection windows, in MeterApp's state file (flushes first)
#   wake_pins()             the field sensor ends a deep sleep at once (until the alarm is up)
# Detection granularity is the wake: a sleeping meter sees flow per read interval, so a burst
# is confirmed after one read interval of sustained high flow (at least 5 min).
from micropython import const

from nbkit.hal.clock import RtcMs
from nbkit.proto import codes
from nbkit.sense import pulse

_MIN_MS = const(60000)
_BURST_CONFIRM_S = const(300)  # high flow this long (or one read interval) is a burst
_FIELD_ACTIVE = const(0)  # the field sensor (reed/Hall to ground) pulls its pin low

# PulseMeter event -> record code; the value each carries is in _value()
EVENT_CODES = {
    pulse.EV_LEAK: codes.LEAK,
    pulse.EV_LEAK_CLEAR: codes.LEAK,
    pulse.EV_BURST: codes.BURST,
    pulse.EV_BURST_CLEAR: codes.BURST,
    pulse.EV_NO_FLOW: codes.NO_FLOW,
    pulse.EV_FLOW_RESUMED: codes.NO_FLOW,
    pulse.EV_REVERSE: codes.REVERSE_FLOW,
    pulse.EV_REVERSE_CLEAR: codes.REVERSE_FLOW,
    pulse.EV_MAGNET: codes.TAMPER,
    pulse.EV_MAGNET_CLEAR: codes.TAMPER,
}
_ENDS = (
    pulse.EV_LEAK_CLEAR,
    pulse.EV_BURST_CLEAR,
    pulse.EV_FLOW_RESUMED,
    pulse.EV_REVERSE_CLEAR,
    pulse.EV_MAGNET_CLEAR,
)


def pulse_config(cfg):
    # PulseMeter settings from the device config: thresholds in L/h become pulses/h.
    lpp = cfg.get("litres_per_pulse", 1)
    read_s = cfg["read_interval_s"]
    burst = cfg["burst_lph"] // lpp
    return {
        "leak_rate": cfg["leak_lph"] // lpp,
        "burst_rate": burst,
        "burst_clear_rate": burst * 2 // 3,
        "burst_window_ms": min(_MIN_MS, read_s * 1000),
        "burst_windows": max(1, _BURST_CONFIRM_S // read_s),
        "field_active": _FIELD_ACTIVE,
    }


class WaterMeter:
    # counter: pulse.HwCounter; clock: the board clock; cfg: the device config; field_pin: the
    # magnet sensor input (or None), field_name its board pin name (a deep-sleep wake pin);
    # store: where the register records go (two slot files).
    def __init__(
        self, counter, clock, cfg, *, field_pin=None, field_name="tamper", store=None, code=None
    ):
        self.lpp = cfg.get("litres_per_pulse", 1)
        self.code = codes.WATER_L if code is None else code
        self.field_name = field_name
        self.has_reverse = counter.pins[1] is not None
        self.field_pin = field_pin
        store = store or pulse.SlotFiles("pulse.a", "pulse.b")
        self.pm = pulse.PulseMeter(
            counter, RtcMs(clock), store, field_pin, persist_every=1, **pulse_config(cfg)
        )

    def events(self):
        out = []
        for ev in self.pm.poll():
            code = EVENT_CODES.get(ev.name)
            if code is not None:
                out.append((code, self._value(ev), ev.urgent))
        return out

    def _value(self, ev):
        if ev.name in _ENDS:
            return 0
        if ev.name == pulse.EV_LEAK:
            return 1
        if ev.name in (pulse.EV_BURST, pulse.EV_REVERSE):
            return ev.value * self.lpp  # pulses/h -> L/h; reverse register -> litres
        return ev.value  # no-flow hours; magnet 1 field sensor, 2 both sensors

    def read(self):
        r = self.pm.begin_report()
        out = [(self.code, r.forward * self.lpp)]
        if self.has_reverse and r.reverse:  # a meter that never ran backwards sends no zeros
            out.append((codes.WATER_REV_L, r.reverse * self.lpp))
        return out

    def state(self):
        self.pm.flush()  # the counter baseline goes to flash before the deep sleep loses it
        return self.pm.state()

    def restore(self, state):
        self.pm.restore(state)

    def wake_pins(self):
        if self.field_pin is None or self.pm.magnet:
            return None  # while the alarm is up the pin stays active: wake on the schedule
        return {self.field_name: _FIELD_ACTIVE}


def wire(board, cfg, clock):
    # The water meter on the board (app.wiring): the hardware pulse counter on pulse_a (reverse
    # pulses on the board's pulse_reverse counter, if it has one), the magnet sensor on tamper.
    rev = board.board.get("pulse_reverse")
    counter = pulse.HwCounter(board.pin("pulse_a"), board.pin(rev) if rev else None)
    return WaterMeter(counter, clock, cfg, field_pin=board.pin("tamper"))
