# The service window: the provisioning console (nbkit.console) on the console UART at a
# power-on or reset, before the meter cycle. A technician's tool (`nbkit provision`) sends a line
# within attention_s seconds (any line; the tool sends `ping <token>`); the device then answers
# console lines until the line `exit` arrives while no session is unlocked (`nbkit provision`
# sends `exit` after each command to lock, which keeps the window open for its next command),
# or until idle_s seconds pass without input. Then the meter cycle runs as usual.
# A timer wake from deep sleep opens no window: waiting on the UART at every wake costs energy.
# Ctrl-C on the console still raises KeyboardInterrupt (out of main.py into the REPL), so
# mpremote and `nbkit deploy` can break in while the window is open.
#
# Parts on the device: the config file through nbkit.console.store_adapter (atomic writes), the
# wrong-attempt count on flash, the event log (nbkit.store.eventlog), the modem driver for
# identify, and self-test checks that use the real paths: AT, SIM (AT+CIMI), attach, a test
# uplink of a fresh meter reading that the collector must acknowledge, the meter input.
import gc

from micropython import const

from nbkit.console.console import Console
from nbkit.console.store_adapter import Attempts, StoreConfig
from nbkit.store.eventlog import EventLog

CONFIG_PATH = "config.json"
EVENTS_PATH = "events.log"
ATTEMPTS_PATH = "service.attempts"
_DEEPSLEEP_RESET = const(4)  # machine.DEEPSLEEP_RESET (ESP32, unix_board)
_POLL_MS = const(200)
_ATTACH_MS = const(60000)


def opens_window(board):
    # Power-on, hard or soft reset, or a deep-sleep wake by a pin (the service button): yes.
    # A deep-sleep wake by the RTC timer: no.
    if board.reset_cause() != _DEEPSLEEP_RESET:
        return True
    reason = getattr(board, "wake_reason", None)
    reason = reason() if reason is not None else None
    return reason not in (None, "timer")


class ServiceConsole(Console):
    # `exit` with no unlocked session ends the service window.
    done = False

    def _cmd_exit(self, args, out):
        was_locked = not self.guard.is_unlocked()
        Console._cmd_exit(self, args, out)  # refuses `exit <anything>` (usage error)
        self.done = was_locked


class LoggedStore(StoreConfig):
    # Every change made from the console goes to the event log (never the values: secrets).
    def __init__(self, path, events):
        StoreConfig.__init__(self, path)
        self.events = events

    def update(self, changes):
        StoreConfig.update(self, changes)
        self.events.append("service: set " + ",".join(sorted(changes)))

    def set_key(self, key):
        StoreConfig.set_key(self, key)
        self.events.append("service: device key replaced")

    def factory_reset(self):
        StoreConfig.factory_reset(self)
        self.events.append("service: factory reset")


class Parts:
    # The modem (identify) and the whole meter app (selftest), built for one command and released
    # after it: the console, the modem driver and the app share a small heap, so nothing big
    # stays allocated between commands. The app is built from the stored config as it is now.
    def __init__(self, board, store, events=None):
        self.board = board
        self.store = store
        self.events = events
        self.clock = board.clock()
        self.app = None
        self._modem = None

    def release(self):
        self.app = self._modem = None
        gc.collect()

    def modem(self):
        if self._modem is None:
            self._build_modem()
        return self._modem

    def _build_modem(self):
        from nbkit.app.links import make_modem
        from nbkit.at.engine import Engine

        gc.collect()
        transport = self.board.modem()
        if transport is None:
            raise OSError("no modem UART on this board")
        engine = Engine(transport, self.clock)
        model = self.board.board["modem"]["model"]
        self._modem = make_modem(model, engine, self.clock, {})

    def _build_app(self):
        # -> the meter app wired like a wake (device.build), or None when not provisioned
        self.release()
        cfg = self.store.current()
        if cfg is None:
            return None
        from nbkit.app import device

        self.app = device.build(self.board, cfg)
        self.app.log = self._log  # app lines go to the event log, not into console replies
        self._modem = self.app.link.modem
        return self.app

    def _log(self, *args):
        if self.events is not None:
            self.events.append("app: " + " ".join(str(a) for a in args))

    # -- identify -------------------------------------------------------------------------
    def info(self):
        try:
            return self._info(self.modem())
        finally:
            self.release()

    def _info(self, modem):
        if not at_ok(modem):
            raise OSError("no answer to AT")
        ident = modem.identity()
        out = {"model": self.board.board.get("name", "?")}
        out["modem"] = "%s %s" % (modem.model, _firmware(ident.get("firmware")))
        for key in ("imei", "iccid", "imsi"):
            out[key] = ident.get(key) or "unknown"
        rssi, dbm = modem.signal()
        out["signal"] = "no signal (csq 99)" if dbm is None else "%d dBm (csq %d)" % (dbm, rssi)
        return out

    # -- selftest: run in this order; the first builds the app, the last releases it -------
    def checks(self):
        return [
            ("modem", self.check_modem),
            ("sim", self.check_sim),
            ("attach", self.check_attach),
            ("uplink", self.check_uplink),
            ("sensor", self.check_sensor),
        ]

    def check_modem(self):
        self._build_app()
        modem = self.modem()
        return (True, "AT answered") if at_ok(modem) else (False, "no answer to AT")

    def check_sim(self):
        reply = self.modem().engine.command("AT+CIMI", "", 2000)
        if reply.ok and reply.lines and reply.lines[0].strip().isdigit():
            return True, "IMSI " + reply.lines[0].strip()
        return False, "no IMSI (SIM missing or not ready): %s" % reply.result

    def check_attach(self):
        modem = self.modem()
        if modem.attach(_ATTACH_MS):
            reg = modem.reg
            return True, "registered" + ("" if reg is None else " (stat %s)" % reg.stat)
        return False, "not attached: %s" % modem.last_error

    def check_uplink(self):
        app = self.app
        if app is None:
            return False, "not provisioned (server, device id and key needed)"
        if hasattr(app, "sample"):
            app.sample()  # a fresh reading: the test uplink carries real data
        cfg = app.cfg
        if app.report():
            return True, "acked by the collector (%d uplinks)" % getattr(app.link, "uplinks", 0)
        return False, "no ack from %s:%d" % (cfg["server_host"], cfg["server_port"])

    def check_sensor(self):
        try:
            app = self.app
            if app is None:
                return False, "not provisioned"
            if hasattr(app, "meter"):
                readings = app.meter.read()
                return True, " ".join("%s=%d" % (code_name(c), v) for c, v in readings)
            sensor = getattr(app, "sensor", None)  # smoke profile
            if sensor is None:
                return False, "no sensor in this profile"
            return True, "smoke sensor " + sensor.state_name()
        finally:
            self.release()


def _firmware(fw):
    # AT+CGMR: one revision line, or Huawei's {"APPLICATION_A": ..., "SSB": ...}
    if isinstance(fw, dict):
        return fw.get("APPLICATION_A") or fw.get("SSB") or "?"
    return fw or "?"


def at_ok(modem):
    for _ in range(3):
        if modem.engine.command("AT", None, 500).ok:
            return True
    return False


def code_name(code):
    from nbkit.proto import codes

    return codes.name(code)


def serve_window(board, attention_s=None, idle_s=60, transport=None, root=""):
    # -> True when a technician used the window. Never raises: the meter cycle must go on.
    # root: directory of the device files ("" = the working directory, as device.py uses).
    # attention_s: 5 s on a board, where bytes sent while the MCU boots are lost and the
    # technician's tool must follow the reset; 0.2 s on the virtual board, whose console pty
    # keeps what a tool sent during the boot (and power cycles there are frequent: tests).
    # The board data may set both: "service_window": {"attention_s": 2, "idle_s": 30}.
    if not opens_window(board):
        return False
    if attention_s is None:
        attention_s = 0.2 if board.board.get("port") == "unix" else 5
    opts = board.board.get("service_window") or {}
    attention_s = opts.get("attention_s", attention_s)
    idle_s = opts.get("idle_s", idle_s)
    try:
        return _serve(board, attention_s, idle_s, transport, root)
    except Exception as exc:  # noqa: BLE001 - a broken console must not stop the meter
        import sys

        print("nbkit: service window failed:", repr(exc))
        sys.print_exception(exc)
        return False


def _serve(board, attention_s, idle_s, transport, root):
    if transport is None:
        from nbkit.hal.stdio import StdioTransport

        transport = StdioTransport()
    clock = board.clock()
    events = EventLog(root + EVENTS_PATH, clock=clock)
    store = LoggedStore(root + CONFIG_PATH, events)
    parts = Parts(board, store, events)
    console = ServiceConsole(
        transport,
        clock,
        store,
        pin=store.pin(),
        info=parts.info,
        checks=parts.checks(),
        log=events.tail,
        attempts=Attempts(root + ATTEMPTS_PATH),
    )
    print("nbkit: service console open for %s s (send a line, e.g. ping)" % attention_s)
    # Ctrl-C keeps its REPL meaning (KeyboardInterrupt): a developer's mpremote / nbkit deploy
    # breaks into the REPL during the window; nbkit provision never sends it.
    used = _loop(console, clock, attention_s, idle_s)
    if used:
        events.append("service: window closed after %d replies" % console.replies)
    print("nbkit: service console closed")
    return used


def _loop(console, clock, attention_s, idle_s):
    last = clock.ticks_ms()
    used = False
    while not console.done:
        limit_ms = int((idle_s if used else attention_s) * 1000)
        left = limit_ms - clock.ticks_diff(clock.ticks_ms(), last)
        if console.poll(max(0, min(_POLL_MS, left))):  # bytes already waiting always count
            last = clock.ticks_ms()
            used = True
        elif left <= 0:
            break
    return used
