# Smoke alarm logic: a pure state machine on a Clock. Hardware is injected: adc.read_u16()
# (chamber), battery_mv() (a callable, measured under load by the board code), tamper pin
# (value() == tamper_active when the alarm is off its base), radio() -> (rsrp, ce) or None.
# start() once at power-up, then step() every next_due_ms(); press() on the test/hush button.
# Every call returns a list of Event; alarm-class events carry urgent=True.
#
# Main state: normal -> confirming -> alarm -> hushed; flags: testing, fault, tamper,
# low_battery. Battery is checked at power-up and at least every 24 h (GB 20517-2025 §5.11.1);
# the low-battery chirp can be silenced for 7 h by a button press (§5.11.2) while fire alarm
# keeps working.
from micropython import const

from nbkit.sense.events import Event

EV_POWER_ON = "power_on"
EV_ALARM = "smoke_alarm"
EV_ALARM_CLEAR = "smoke_alarm_clear"
EV_HUSH = "hush"
EV_HUSH_END = "hush_end"
EV_SELF_TEST = "self_test"  # value: 1 pass, 2 pass with low battery, 0 fail
EV_LOW_BATTERY = "low_battery"
EV_BATTERY_OK = "battery_ok"
EV_FAULT = "sensor_fault"
EV_FAULT_CLEAR = "sensor_fault_clear"
EV_TAMPER = "tamper_removed"
EV_INSTALLED = "installed"
EV_HEARTBEAT = "heartbeat"  # value: (battery mV, rsrp dBm or None, coverage level or None)

NORMAL = "normal"
CONFIRMING = "confirming"
ALARM = "alarm"
HUSHED = "hushed"

TEST_FAIL = const(0)
TEST_PASS = const(1)
TEST_PASS_LOW_BATTERY = const(2)

_MINUTE = const(60000)
_HOUR = const(3600000)
_DAY = const(86400000)

DEFAULTS = {
    "alarm_on": 30000,  # chamber reading (u16) that starts confirmation
    "alarm_off": 22000,  # below this the alarm clears (hysteresis)
    "confirm_ms": 5000,  # reading must hold that long to raise or clear an alarm
    "hush_ms": 10 * _MINUTE,
    "hush_ceiling": 60000,  # while hushed, a reading this high re-alarms at once
    "fault_low": 1000,  # below: photodiode/LED/chamber fault
    "fault_ms": 30000,
    "test_ms": 3000,
    "battery_low_mv": 2600,
    "battery_hyst_mv": 100,
    "battery_check_ms": _DAY,  # capped at 24 h
    "battery_silence_ms": 7 * _HOUR,
    "heartbeat_ms": _DAY,
    "sample_ms": 10000,
    "fast_sample_ms": 1000,
    "tamper_active": 1,
}


class SmokeSensor:
    def __init__(self, adc, clock, battery_mv, tamper_pin=None, radio=None, **cfg):
        self.adc = adc
        self.clock = clock
        self.battery_mv = battery_mv
        self.tamper_pin = tamper_pin
        self.radio = radio
        self.cfg = dict(DEFAULTS)
        for k, v in cfg.items():
            if k not in DEFAULTS:
                raise ValueError("unknown smoke setting: " + k)
            self.cfg[k] = v
        self.cfg["battery_check_ms"] = min(self.cfg["battery_check_ms"], _DAY)
        self.state = NORMAL
        self.since = None  # type: int | None  # start of the current confirmation or clearing run
        self.hush_until = 0
        self.test_until = None
        self.fault = self.tamper = self.low_battery = False
        self.fault_since = None
        self.battery_silenced_until = None
        self.last_mv = 0
        self.reading = 0
        self.next_battery = self.next_heartbeat = 0

    # -- helpers -------------------------------------------------------------------------
    def _now(self):
        return self.clock.ticks_ms()

    def _after(self, now, t):
        return self.clock.ticks_diff(now, t) >= 0

    def _ev(self, out, name, value=None, urgent=False):
        out.append(Event(name, value, urgent, self._now()))

    def percent(self, reading):
        return reading * 100 // 65535

    def state_name(self):
        s = self.state
        for flag in ("fault", "tamper", "low_battery"):
            if getattr(self, flag):
                s += "+" + flag
        if self.test_until is not None:
            s += "+testing"
        return s

    def sounder(self):
        # What the buzzer does now: "alarm", "test", "chirp" (low battery) or "off".
        if self.state == ALARM:
            return "alarm"
        if self.test_until is not None:
            return "test"
        if self.low_battery and self.battery_silenced_until is None:
            return "chirp"
        return "off"

    def next_due_ms(self):
        busy = self.state != NORMAL or self.test_until is not None or self.fault_since is not None
        return self.cfg["fast_sample_ms"] if busy else self.cfg["sample_ms"]

    def set_heartbeat(self, ms):
        # Server-configurable heartbeat interval; takes effect from now.
        self.cfg["heartbeat_ms"] = ms
        self.next_heartbeat = self.clock.ticks_add(self._now(), ms)

    # -- entry points --------------------------------------------------------------------
    def start(self):
        out = []  # type: list
        now = self._now()
        self._check_battery(now, out)
        self._ev(out, EV_POWER_ON, self.last_mv)
        if self.low_battery:
            out.insert(0, out.pop())  # power-on first, then the low-battery finding
        self.next_heartbeat = self.clock.ticks_add(now, self.cfg["heartbeat_ms"])
        self._tamper(out)
        return out

    def step(self):
        out = []  # type: list
        now = self._now()
        self.reading = self.adc.read_u16()
        self._fault(now, out)
        if not self.fault:
            self._smoke(now, out)
        self._test(now, out)
        self._tamper(out)
        if self._after(now, self.next_battery):
            self._check_battery(now, out)
        if self.battery_silenced_until is not None and self._after(
            now, self.battery_silenced_until
        ):
            self.battery_silenced_until = None
        if self._after(now, self.next_heartbeat):
            self._heartbeat(now, out)
        return out

    def press(self):
        # Button: hush a sounding alarm; otherwise run a self-test (and, with a low battery,
        # silence the battery chirp for battery_silence_ms).
        out = []  # type: list
        now = self._now()
        if self.state == ALARM:
            self.state = HUSHED
            self.hush_until = self.clock.ticks_add(now, self.cfg["hush_ms"])
            self._ev(out, EV_HUSH, self.cfg["hush_ms"] // _MINUTE)
        elif self.test_until is None:
            self.test_until = self.clock.ticks_add(now, self.cfg["test_ms"])
            if self.low_battery:
                silence = self.cfg["battery_silence_ms"]
                self.battery_silenced_until = self.clock.ticks_add(now, silence)
        return out

    # -- parts ---------------------------------------------------------------------------
    def _smoke(self, now, out):
        r = self.reading
        c = self.cfg
        st = self.state
        if st == NORMAL:
            if r >= c["alarm_on"]:
                self.state = CONFIRMING
                self.since = now
                st = CONFIRMING
        if st == CONFIRMING:
            if r < c["alarm_on"]:
                self.state = NORMAL
            elif self.clock.ticks_diff(now, self.since) >= c["confirm_ms"]:
                self.state = ALARM
                self.since = None
                self._ev(out, EV_ALARM, self.percent(r), True)
        elif st in (ALARM, HUSHED):
            self._alarm_or_hushed(now, r, out)

    def _alarm_or_hushed(self, now, r, out):
        c = self.cfg
        if r < c["alarm_off"]:
            if self.since is None:
                self.since = now
            if self.clock.ticks_diff(now, self.since) >= c["confirm_ms"]:
                self.state = NORMAL
                self._ev(out, EV_ALARM_CLEAR, self.percent(r), True)
                return
        else:
            self.since = None
        if self.state == HUSHED:
            if r >= c["hush_ceiling"]:
                self.state = ALARM
                self._ev(out, EV_HUSH_END, 0)
                self._ev(out, EV_ALARM, self.percent(r), True)
            elif self._after(now, self.hush_until):
                self.state = ALARM
                self._ev(out, EV_HUSH_END, 1)
                if r >= c["alarm_off"]:
                    self._ev(out, EV_ALARM, self.percent(r), True)

    def _fault(self, now, out):
        bad = self.reading < self.cfg["fault_low"]
        if bad == self.fault:
            self.fault_since = None
            return
        if self.fault_since is None:
            self.fault_since = now
        if self.clock.ticks_diff(now, self.fault_since) >= self.cfg["fault_ms"]:
            self.fault = bad
            self.fault_since = None
            if bad:
                if self.state in (ALARM, HUSHED):
                    # the chamber died while alarming: the alarm can no longer be judged
                    self._ev(out, EV_ALARM_CLEAR, self.percent(self.reading), True)
                self.state = NORMAL
                self._ev(out, EV_FAULT, self.reading)
            else:
                self._ev(out, EV_FAULT_CLEAR, self.reading)

    def _test(self, now, out):
        if self.test_until is None or not self._after(now, self.test_until):
            return
        self.test_until = None
        self._check_battery(now, out)
        if self.fault or self.reading < self.cfg["fault_low"]:
            result = TEST_FAIL
        elif self.low_battery:
            result = TEST_PASS_LOW_BATTERY
        else:
            result = TEST_PASS
        self._ev(out, EV_SELF_TEST, result)

    def _tamper(self, out):
        if self.tamper_pin is None:
            return
        removed = self.tamper_pin.value() == self.cfg["tamper_active"]
        if removed != self.tamper:
            self.tamper = removed
            self._ev(out, EV_TAMPER if removed else EV_INSTALLED, 1 if removed else 0, removed)

    def _check_battery(self, now, out):
        mv = self.battery_mv()
        self.last_mv = mv
        self.next_battery = self.clock.ticks_add(now, self.cfg["battery_check_ms"])
        low = self.cfg["battery_low_mv"]
        if not self.low_battery and mv < low:
            self.low_battery = True
            self._ev(out, EV_LOW_BATTERY, mv)
        elif self.low_battery and mv >= low + self.cfg["battery_hyst_mv"]:
            self.low_battery = False
            self.battery_silenced_until = None
            self._ev(out, EV_BATTERY_OK, mv)

    def _heartbeat(self, now, out):
        self._check_battery(now, out)
        info = self.radio() if self.radio else None
        rsrp, ce = info if info else (None, None)
        self.next_heartbeat = self.clock.ticks_add(now, self.cfg["heartbeat_ms"])
        self._ev(out, EV_HEARTBEAT, (self.last_mv, rsrp, ce))
