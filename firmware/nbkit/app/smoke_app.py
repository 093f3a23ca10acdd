# Smoke alarm application (profile "smoke"). One call of wake() is one wake of the device:
#   1. cold boot: SmokeSensor.start() (power-on, battery check); deep-sleep wake: restore it;
#   2. stay awake while something is going on (confirming smoke, alarm, hush, self-test, a fault
#      being confirmed, events not yet acknowledged), stepping the sensor every next_due_ms()
#      in light sleep; button presses arrive by IRQ;
#   3. every event is appended to the durable queue FIRST, then scheduler.event() makes the next
#      wake "now": the modem is woken and the event sent at once with release-after-reply
#      (NSOSTF 0x400, app.uplink's report loop), retried on the scheduler's short event
#      backoff until the collector acks;
#   4. when quiet, return how long to deep-sleep and the wake pins (chamber comparator, button,
#      tamper switch) so an alarm wakes the device at once.
# The chamber is not sampled every 10 s in deep sleep: the board's analog front end raises the
# smoke_adc wake pin (a threshold interrupt); the sensor's own sampling runs while awake.
from micropython import const

from nbkit.app import scheduler as sch
from nbkit.app.uplink import Reporter
from nbkit.hal import watchdog
from nbkit.proto import codes, frame
from nbkit.sense import smoke
from nbkit.store import statefile

_STATE_VERSION = const(1)
_MAX_EVENTS = const(16)  # events taken per step; a sensor raises a few at most

# sensor event name -> record code (value conversions in _records)
EVENT_CODES = {
    smoke.EV_ALARM: codes.SMOKE_ALARM,
    smoke.EV_ALARM_CLEAR: codes.SMOKE_CLEAR,
    smoke.EV_HUSH: codes.SMOKE_HUSH,
    smoke.EV_HUSH_END: codes.SMOKE_HUSH_END,
    smoke.EV_SELF_TEST: codes.SMOKE_SELFTEST,
    smoke.EV_LOW_BATTERY: codes.LOW_BATTERY,
    smoke.EV_BATTERY_OK: codes.BATTERY_OK,
    smoke.EV_FAULT: codes.SMOKE_FAULT,
    smoke.EV_FAULT_CLEAR: codes.SMOKE_FAULT_CLEAR,
    smoke.EV_TAMPER: codes.REMOVED,
    smoke.EV_INSTALLED: codes.REMOVED,
    smoke.EV_HEARTBEAT: codes.HEARTBEAT,
    smoke.EV_POWER_ON: codes.BOOT,
}


class SensorClock:
    # The sensor's windows (confirmation, hush, 24 h battery check) are device time. On the
    # virtual board ticks are wall ms while the RTC is virtual: use the virtual RTC there.
    def __init__(self, clock):
        self.clock = clock
        self._virtual = getattr(clock, "virtual_s", None)

    def ticks_ms(self):
        if self._virtual is None:
            return self.clock.ticks_ms()
        return int(self._virtual() * 1000)

    def ticks_diff(self, a, b):
        return a - b if self._virtual is not None else self.clock.ticks_diff(a, b)

    def ticks_add(self, a, d):
        return a + d if self._virtual is not None else self.clock.ticks_add(a, d)


class SmokeApp(Reporter):
    max_uplinks = 4  # frames per report: events are few; what is left goes at the next wake

    # cfg: validated config; clock: the board clock (time(), sleep_ms()); queue: store.queue.Queue;
    # link: app.link.UdpLink; sensor: sense.smoke.SmokeSensor on SensorClock(clock);
    # button: a pin with irq() (or None); warm: this boot is a deep-sleep wake (booted() says
    # otherwise);
    # wake_reason: the pin that ended the deep sleep ("button", ...) or None;
    # epoch: nbkit.store.epoch.Epoch (None: epoch 0 in RAM, for tests).
    def __init__(
        self,
        cfg,
        clock,
        queue,
        link,
        sensor,
        *,
        button=None,
        warm=True,
        wake_reason=None,
        reset_cause=0,
        state_path="smoke.state",
        log=None,
        epoch=None,
    ):
        hb = cfg["heartbeat_s"]
        # a smoke alarm is life safety: every one of its tries, even without a cell
        sched = sch.Scheduler(
            clock,
            0,
            heartbeat_s=hb,
            backoff_base_s=min(60, hb),
            backoff_max_s=hb,
            no_cell_tries=1,
        )
        super().__init__(cfg, queue, link, sched, log, epoch=epoch)
        self.clock = clock
        self.sensor = sensor
        self.button = button
        self.warm = warm
        self.wake_reason = wake_reason
        self.reset_cause = reset_cause
        self.state_path = state_path
        self.radio = None  # (rsrp dBm, coverage level) seen at the last uplink
        self.power_on_t = clock.time()
        self.presses = 0
        self.wake_pins = {}
        self.sensor.radio = self._radio

    # -- one wake ----------------------------------------------------------------------------

    def wake(self):
        # -> ms to deep-sleep; self.wake_pins says which pin levels end that sleep early.
        restored = self._load() if self.warm else False
        events = [] if restored else self._cold_start()
        if self.button is not None:
            self.button.irq(self._on_press, 2)  # IRQ_FALLING: the handler only counts
        if self.wake_reason == "button":
            self.presses += 1
        while True:
            events += self.sensor.step()
            if self.presses:
                self.presses = 0
                events += self.sensor.press()
            self._record(events)
            events = []
            self._report_if_due()
            if self._quiet():
                break
            watchdog.extend()  # each step is bounded work; a long alarm is not an overrun
            self.clock.sleep_ms(self._awake_step_ms())
        self._save()
        return self._sleep_ms()

    def booted(self, cause):
        # Power-on, not a deep-sleep wake (device.run): start the sensor afresh, report the cause.
        self.warm = False
        self.reset_cause = cause

    def _cold_start(self):
        # The sensor starts afresh; the report backoff and counters of the last run stay (a
        # reset by the last resort must not turn a failing report into a retry storm).
        self.power_on_t = self.clock.time()
        st = statefile.load(self.state_path, _STATE_VERSION)
        if st is not None:
            try:
                self.sched.restore(tuple(st["sched"]))
                self.restore_counters(st.get("rep"))
            except (KeyError, TypeError, ValueError):
                pass  # another layout: the schedule starts from now
        return self.sensor.start()

    def _on_press(self, _pin):
        self.presses += 1

    def _record(self, events):
        # Durable first: the queue holds the event before any attempt to send it.
        now = self.clock.time()
        for ev in events[:_MAX_EVENTS]:
            for code, value in self._records(ev):
                seq = self.queue.append(frame.pack_record(now, code, value))
                self.log("event", seq, codes.name(code), value, "URGENT" if ev.urgent else "")
            if ev.urgent or not self.sched.failures:  # backing off: routine news waits
                self.sched.event("alarm" if ev.urgent else "event")

    def _records(self, ev):
        name, v = ev.name, ev.value
        code = EVENT_CODES.get(name)
        if code is None:
            return []
        if name == smoke.EV_HEARTBEAT:
            mv, rsrp, ce = v
            out = [(codes.HEARTBEAT, self.clock.time() - self.power_on_t)]
            out.append((codes.BATTERY_MV, mv))
            if rsrp is not None:
                out.append((codes.RSRP_DBM, rsrp))
            if ce is not None:
                out.append((codes.CE_LEVEL, ce))
            return out
        if name == smoke.EV_POWER_ON:
            return [(codes.BOOT, self.reset_cause), (codes.BATTERY_MV, v)]
        if name in (smoke.EV_ALARM, smoke.EV_ALARM_CLEAR):
            v = v * 100  # chamber reading, % of full scale -> 0.01 %
        elif name == smoke.EV_HUSH:
            v = v * 60  # minutes -> seconds
        return [(code, int(v or 0))]

    def _radio(self):
        return self.radio

    # -- awake or asleep ---------------------------------------------------------------------

    def _quiet(self):
        s = self.sensor
        busy = s.state != smoke.NORMAL or s.test_until is not None or s.fault_since is not None
        if busy or self.presses:
            return False
        if not self.sched.events:
            return True
        wake_at, _ = self.sched.next_wake()  # events waiting: stay up if the retry is close
        return wake_at - self.clock.time() > 60

    def _awake_step_ms(self):
        ms = self.sensor.next_due_ms()
        if self.sched.events:
            wake_at, _ = self.sched.next_wake()
            ms = min(ms, max(0, self.sched.ms_until(wake_at)))
        return max(ms, 100)

    def _sleep_ms(self):
        # until the scheduler's next wake or the sensor's next battery check / heartbeat
        s = self.sensor
        sc = s.clock
        now = sc.ticks_ms()
        ms = self.sched.ms_until(self.sched.next_wake()[0])
        for due in (s.next_battery, s.next_heartbeat):
            ms = min(ms, max(0, sc.ticks_diff(due, now)))
        active = s.cfg["tamper_active"]
        # the chamber wakes the board at the alarm threshold (the AFE comparator), the button
        # when pressed, the tamper switch when it changes
        self.wake_pins = {"smoke_adc": s.cfg["alarm_on"], "button": 0}
        if s.tamper_pin is not None:
            self.wake_pins["tamper"] = 1 - active if s.tamper else active
        return max(ms, 1000)

    # -- uplink ------------------------------------------------------------------------------

    def _report_if_due(self):
        wake_at, reasons = self.sched.next_wake()
        if wake_at > self.clock.time():
            return
        if self.queue.counts()["pending"] or sch.HEARTBEAT not in reasons:
            ok = self.report()
            self.sched.reported(ok, no_cell=not ok and self.no_cell())
        else:
            self.sched.reported(True)

    def while_up(self):
        # signal and coverage level for the next heartbeat (the modem is awake now)
        try:
            stats = self.link.modem.ue_stats()
        except Exception as exc:  # ModemError: keep the last known values
            self.log("ue stats:", exc)
            return
        power = stats.get("Signal power")  # tenths of dBm: -853 -> -85 (toward zero)
        rsrp = None if power is None else -(-power // 10) if power < 0 else power // 10
        self.radio = (rsrp, stats.get("ECL"))

    # -- state across deep sleep -------------------------------------------------------------

    def _load(self):
        # -> True when a deep sleep's state was put back (else the sensor starts cold)
        st = statefile.load(self.state_path, _STATE_VERSION)
        if st is None:
            return False
        try:
            self.sched.restore(tuple(st["sched"]))
            self.radio = tuple(st["radio"]) if st.get("radio") else None
            self.power_on_t = st["boot_t"]
            self.restore_counters(st.get("rep"))
            s = self.sensor
            s.low_battery, s.tamper, s.fault, s.last_mv = st["flags"]
            now_rtc, now = self.clock.time(), s.clock.ticks_ms()
            s.next_battery = s.clock.ticks_add(now, (st["battery_at"] - now_rtc) * 1000)
            s.next_heartbeat = s.clock.ticks_add(now, (st["heartbeat_at"] - now_rtc) * 1000)
        except (KeyError, TypeError, ValueError):
            return False  # fields of another layout: start cold rather than crash every wake
        return True

    def _save(self):
        s = self.sensor
        now_rtc, now = self.clock.time(), s.clock.ticks_ms()
        st = {
            "sched": list(self.sched.state()),
            "radio": list(self.radio) if self.radio else None,
            "boot_t": self.power_on_t,
            "rep": self.counters(),
            "flags": [s.low_battery, s.tamper, s.fault, s.last_mv],
            "battery_at": now_rtc + s.clock.ticks_diff(s.next_battery, now) // 1000,
            "heartbeat_at": now_rtc + s.clock.ticks_diff(s.next_heartbeat, now) // 1000,
        }
        statefile.save(self.state_path, _STATE_VERSION, st)


def wire(board, cfg, clock, queue, link, *, epoch, app_log):
    # The smoke alarm on the board (app.wiring): the chamber on smoke_adc, the battery on
    # battery_adc, the base switch on tamper, the test/hush button on button.
    sensor = smoke.SmokeSensor(
        board.pin("smoke_adc"),
        SensorClock(clock),
        _battery(board),
        board.pin("tamper"),
        heartbeat_ms=cfg["heartbeat_s"] * 1000,
        battery_low_mv=cfg["low_battery_mv"],
    )
    wake = board.wake_reason() if hasattr(board, "wake_reason") else None
    # a deep-sleep wake until run() says booted(cause)
    return SmokeApp(
        cfg,
        clock,
        queue,
        link,
        sensor,
        button=board.pin("button"),
        wake_reason=wake,
        log=app_log,
        epoch=epoch,
    )


def _battery(board):
    # battery mV from the battery_adc pin: read_u16() * full scale / 65535 (board data
    # battery_full_scale_mv: the divider and reference; on the virtual board the value is mV)
    pin = board.pin("battery_adc")
    full = board.board.get("battery_full_scale_mv", 65535)

    def battery_mv():
        return pin.read_u16() * full // 65535

    return battery_mv
