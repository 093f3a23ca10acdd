# The parts of the service window (nbkit.app.service), loaded only while a window is open and
# unloaded after it, so a normal wake carries none of them on its heap: the console on the real
# config store (changes logged to the event log), the modem for identify, the meter app for the
# self-test (built per command and released: the console, modem driver and app share a small heap).
import gc

from micropython import const

from nbkit.console.console import Console, ConsoleError
from nbkit.console.store_adapter import StoreConfig

_ATTACH_MS = const(60000)
_SELFTEST_RECORDS = const(4)  # records in the self-test's one uplink frame


class ServiceConsole(Console):
    # `exit` with no unlocked session ends the service window; `repl confirm` in an unlocked
    # session ends it too and asks for the Python REPL (nbkit.app.lockdown).
    done = False
    open_repl = False

    def _cmd_repl(self, args, out):
        if args != ["confirm"]:
            raise ConsoleError(400, "opens the Python REPL until the next reset: repl confirm")
        self.done = self.open_repl = True

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
        # -> the meter app wired like a wake (app.wiring), or None when not provisioned
        self.release()
        cfg = self.store.current()
        if cfg is None:
            return None
        from nbkit.app import wiring

        # app lines go to the event log, not into console replies (from the construction on:
        # opening the state logs, e.g. a slot taken before a power cut)
        self.app = wiring.build(self.board, cfg, app_log=self._log)
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
        # One small frame of the oldest pending records (a fresh reading among them when nothing
        # else waits), acked by the collector: the proof the whole path works. Small, because
        # the console, the modem stack and the app share the heap; the rest waits for a report.
        app = self.app
        if app is None:
            return False, "not provisioned (server, device id and key needed)"
        if hasattr(app, "sample"):
            app.sample()  # a fresh reading: the test uplink carries real data
        cfg = app.cfg
        before = app.queue.counts()["pending"]
        app.max_uplinks = 1
        app.frame_records = _SELFTEST_RECORDS
        gc.collect()  # defragment before the AT lines and the frame are built
        app.report()
        if app.queue.counts()["pending"] < before:
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
