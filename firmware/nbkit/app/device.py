# Wires the application from the board and the stored configuration, runs one wake, then
# deep-sleeps the board until the scheduler's next wake. `board` is the hal board module:
# nbkit.hal.unix_board on the virtual board, nbkit.hal.machine_board on a real one. Both give:
#   board.board (data), clock(), modem() -> Transport, pin(name), deepsleep(ms), reset_cause()
from micropython import const

from nbkit.app.link import UdpLink
from nbkit.app.meter import MeterApp
from nbkit.at.engine import Engine
from nbkit.modem.bc95 import Bc95
from nbkit.proto import codes
from nbkit.store import config
from nbkit.store.queue import Queue

CONFIG_PATH = "config.json"
QUEUE_DIR = "queue"
_UNPROVISIONED_SLEEP_MS = const(3600000)  # no config: look again in an hour
_CRASH_SLEEP_MS = const(60000)  # an unexpected error: log it, sleep a minute, start afresh
_LINE_MAX = const(2800)  # AT lines: +NSONMI modes 2/3 carry the datagram in hex


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
    modem = Bc95(engine, clock, apn=cfg["apn"], model=model)
    link = UdpLink(modem, cfg["server_host"], cfg["server_port"])
    meter = EdgeCounter(board.pin("pulse_a"))
    queue = Queue(QUEUE_DIR)
    return MeterApp(cfg, clock, queue, meter, link, log=log)


def run(board):
    # One wake of the device; never returns on a board (deep sleep resets the MCU).
    try:
        cfg = config.load(CONFIG_PATH)
    except config.ConfigError as exc:
        log("not provisioned:", exc)
        board.deepsleep(_UNPROVISIONED_SLEEP_MS)
        return
    try:
        ms = build(board, cfg).wake()
    except Exception as exc:  # never stay stuck in the REPL: a board in the field is alone
        import sys

        log("error, retrying after a sleep:")
        sys.print_exception(exc)
        ms = _CRASH_SLEEP_MS
    log("sleep", ms // 1000, "s")
    board.deepsleep(ms)
