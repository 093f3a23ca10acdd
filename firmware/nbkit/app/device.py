# Wires the application from the board and the stored configuration, runs one wake, then
# deep-sleeps the board until the scheduler's next wake. `board` is the hal board module:
# nbkit.hal.unix_board on the virtual board, nbkit.hal.machine_board on a real one. Both give:
#   board.board (data), clock(), modem() -> Transport, pin(name), deepsleep(ms), reset_cause()
from micropython import const

from nbkit.app import power
from nbkit.app.link import UdpLink
from nbkit.app.meter import MeterApp
from nbkit.at.engine import Engine
from nbkit.modem.bc95 import Bc95
from nbkit.proto import codes
from nbkit.store import config
from nbkit.store.queue import Queue

CONFIG_PATH = "config.json"
QUEUE_DIR = "queue"
_CRASH_SLEEP_MS = const(60000)  # an unexpected error: log it, sleep a minute, start afresh
_LINE_MAX = const(2800)  # AT lines: +NSONMI modes 2/3 carry the datagram in hex
_PSM_TAU_S = const(86400)  # requested T3412: a periodic TAU once a day at most
_PSM_ACTIVE_S = const(10)  # requested T3324: PSM 10 s after the RRC release
_PSM_FALLBACK = power.FALLBACK_AUTO  # PSM denied: CFUN=0 or stay, whichever costs less


class EdgeCounter:
    # Water/gas index from a hardware edge counter that keeps counting while the MCU sleeps (the
    # vboard's host-side counter; ESP32 PCNT/ULP, STM32 LPTIM on real meters). The litres already
    # counted survive a counter reset (power-up) because the last count is kept in the app state.
    def __init__(self, pin, litres_per_pulse=1, code=codes.WATER_L):
        self.pin = pin
        self.lpp = litres_per_pulse
        self.code = code
        self.base = 0
        self.last = 0

    def restore(self, state):
        self.base, self.last = state

    def state(self):
        return (self.base, self.last)

    def read(self):
        now = self.pin.falling
        if now < self.last:  # the counter restarted (power-up): keep what it had counted
            self.base += self.last
        self.last = now
        return [(self.code, (self.base + now) * self.lpp)]


def log(*args):
    print("nbkit:", *args)


def build(board, cfg):
    # -> MeterApp wired to this board's modem, flash and meter input.
    clock = board.clock()
    model = board.board["modem"]["model"]
    engine = Engine(board.modem(), clock, line_max=_LINE_MAX)
    modem = Bc95(engine, clock, apn=cfg["apn"], model=model, psm=(_PSM_TAU_S, _PSM_ACTIVE_S))
    link = UdpLink(modem, cfg["server_host"], cfg["server_port"])
    meter = EdgeCounter(board.pin("pulse_a"))
    queue = Queue(QUEUE_DIR)
    return MeterApp(cfg, clock, queue, meter, link, log=log)


def run(board):
    # One wake of the device; never returns on a board (deep sleep resets the MCU).
    try:
        cfg = config.load(CONFIG_PATH)
    except config.ConfigError as exc:
        # Factory state: stay awake at the REPL/console for the technician (mpremote, nbkit
        # provision) instead of sleeping where nobody can reach the device.
        log("not provisioned:", exc)
        return
    try:
        app = build(board, cfg)
        cause = board.reset_cause()
        if cause != board.DEEPSLEEP_RESET:
            app.booted(cause)
        ms = app.wake()
        if app.link.used and not app.sched.psm:
            after = power.after_report(False, _PSM_FALLBACK, cfg["report_interval_s"])
            if after == power.ACTION_CFUN0:  # the network denied PSM: radio off until the next
                app.link.modem.power_down()  # report instead of idling at DRX current
    except Exception as exc:  # never stay stuck in the REPL: a board in the field is alone
        import sys

        log("error, retrying after a sleep:")
        sys.print_exception(exc)
        ms = _CRASH_SLEEP_MS
    log("sleep", ms // 1000, "s")
    board.deepsleep(ms)
