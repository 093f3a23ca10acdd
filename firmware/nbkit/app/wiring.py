# Builds the application from the board and the stored configuration: the AT engine on the
# board's modem UART, the modem driver its data names, the uplink link the config's transport
# asks for, the queue on flash and the profile's app (nbkit.profiles). `board` is the hal board
# module (nbkit.hal.unix_board or machine_board): board.board (data), clock(), modem(), pin(name),
# meterbus() -> Transport or None; the virtual board also wake_reason(). Used by app.device for
# every wake and by the service console's self-test (app.service_parts).
import gc
import sys

from micropython import const

from nbkit import profiles
from nbkit.store.queue import Queue

QUEUE_DIR = "queue"
# The queue holds 24 segments of 32 records (768, 13.5 KB with their headers; a segment file
# takes a flash block, a segment is read whole into RAM): 8 days of 15-minute readings and
# their events, so a coverage hole or a collector outage of several days loses nothing (beyond
# that the oldest go, counted upstream as QUEUE_DROPPED).
_SEG_RECORDS = const(32)
_SEGMENTS = const(24)
EPOCH_PATH = "epoch"
_LINE_MAX = const(2800)  # AT lines: +NSONMI modes 2/3 carry the datagram in hex
_PSM_TAU_S = const(86400)  # requested T3412: a periodic TAU once a day at most
_PSM_ACTIVE_S = const(10)  # requested T3324: PSM 10 s after the RRC release


def log(*args):
    print("nbkit:", *args)


def build(board, cfg, app_log=None):
    # -> the application cfg["profile"] names (nbkit.profiles), wired to this board:
    #   water               app.water.WaterMeter: hardware pulse counter on pulse_a (reverse
    #                       pulses on the board's pulse_reverse counter), magnet sensor on tamper
    #   gas-cjt188          a CJ/T 188 gas/water meter read over the meter bus at every sample
    #   electricity-dlt645  a DL/T 645-2007 meter (combined/forward/reverse energy), meter bus
    #   heat-mbus           an EN 13757 M-Bus heat meter (energy, volume, temperatures), meter bus
    #   smoke               app.smoke_app.SmokeApp on smoke_adc, button, tamper, battery_adc
    # app_log: where the app's lines go from its construction on (default: the console; the
    # service console's selftest gives its event log, so no line lands in a console reply)
    _, app, bus, medium, _ = profiles.get(cfg.get("profile", profiles.DEFAULT))
    app_log = app_log or log
    clock = board.clock()
    link = LazyLink(board, cfg)  # the modem stack loads at the first use: a report
    queue = Queue(QUEUE_DIR, _SEG_RECORDS, _SEGMENTS)
    epoch = _epoch(queue)
    # each app module wires its own parts (wire()): a wake loads only its profile's names
    if app == "smoke":
        from nbkit.app import smoke_app

        return smoke_app.wire(board, cfg, clock, queue, link, epoch=epoch, app_log=app_log)
    # the app's own code first: the meter's code then loads above it, and leaves one free
    # stretch at the top of the heap when it is parked for the modem stack (not holes between
    # the app's long-lived objects, too small for the modem stack's larger tables)
    from nbkit.app.meter import MeterApp

    gc.collect()
    if bus is None:
        meter = MeterSlot(lambda: _wire_water(board, cfg, clock))
    else:
        meter = MeterSlot(lambda: _wire_bus(board, cfg["profile"], bus, medium, clock))
    # one of the two stacks at a time: the meter's code leaves the heap before the modem stack
    # loads (a report), and the modem stack before the meter's code loads again (the alarms
    # raised during the report, a sample due after it)
    link.before = meter.park
    meter.before = link.park
    return MeterApp(cfg, clock, queue, meter, link, log=app_log, epoch=epoch)


class LazyLink:
    # The link cfg["transport"] asks for over the board's modem (AT engine, driver, link), built
    # at the first use of any of its attributes: a wake that only samples never loads the modem
    # stack (about half the heap of a report). Before that, `used` is False. park() lets the
    # modem stack leave the heap after the report; `used` is kept, and anything else asked
    # builds it again (a new driver, which finds the modem as after a deep sleep).
    def __init__(self, board, cfg):
        self._board = board
        self._cfg = cfg
        self._link = None
        self._mods = []  # type: list
        self._used = False  # a parked link was used in this wake
        self.before = None  # called before the modem stack loads

    def __getattr__(self, name):
        if self._link is None and name == "used":
            return self._used
        return getattr(self._built(), name)

    def __setattr__(self, name, value):
        # the slot's own fields stay here; anything else (link.resends = 0) is the link's
        if name[0] == "_" or name == "before":
            object.__setattr__(self, name, value)
        else:
            setattr(self._built(), name, value)

    def _built(self):
        if self._link is None:
            if self.before is not None:
                self.before()
            self._link, self._mods = loading(lambda: _link(self._board, self._cfg))
        return self._link

    def park(self):
        if self._link is None:
            return
        self._used = self._used or self._link.used
        self._link = None
        forget(self._mods)


class MeterSlot:
    # The profile's meter (make() builds it), parked while the modem stack is loaded: park()
    # keeps its state() and wake_pins() and lets its modules leave the heap (a report wake holds
    # the modem stack, not the meter's code). Asked anything else after that, the meter loads
    # again and gets the kept state back.
    def __init__(self, make):
        self._make = make
        self._mods = []  # type: list
        self._has = ()  # type: tuple
        self._kept = (None, None)  # (state, wake pins) while parked
        self.before = None  # called before the meter loads again
        self._meter = self._load()

    def _load(self):
        meter, self._mods = loading(self._make)
        self._has = tuple(
            name for name in ("events", "state", "restore", "wake_pins") if hasattr(meter, name)
        )
        return meter

    def park(self):
        meter = self._meter
        if meter is None:
            return
        state = meter.state() if "state" in self._has else None
        pins = meter.wake_pins() if "wake_pins" in self._has else None
        self._kept = (state, pins)
        self._meter = meter = None
        forget(self._mods)

    def __getattr__(self, name):
        if self._meter is None:
            kept = self._kept
            if name in ("state", "wake_pins"):
                if name not in self._has:
                    raise AttributeError(name)
                return (lambda: kept[0]) if name == "state" else (lambda: kept[1])
            if self.before is not None:
                self.before()
            self._meter = self._load()  # anything else (a sample after the report): load again
            if kept[0] is not None and "restore" in self._has:
                self._meter.restore(kept[0])
            self._kept = (None, None)
        return getattr(self._meter, name)


def loading(make):
    # -> (what make() returned, the modules it loaded)
    before = list(sys.modules)
    made = make()
    return made, [name for name in sys.modules if name not in before]


def forget(names):
    # Drop modules (and their packages' references to them) so gc can take their code.
    for name in names:
        if name in sys.modules:
            del sys.modules[name]
        parent, _, child = name.rpartition(".")
        package = sys.modules.get(parent)
        if package is not None and child in package.__dict__:
            delattr(package, child)
    gc.collect()


def _link(board, cfg):
    from nbkit.app.links import make_link, make_modem
    from nbkit.at.engine import Engine

    gc.collect()  # the wake's garbage goes before the modem stack loads
    clock = board.clock()
    engine = Engine(board.modem(), clock, line_max=_LINE_MAX)
    model = board.board["modem"]["model"]
    modem = make_modem(model, engine, clock, cfg, psm=(_PSM_TAU_S, _PSM_ACTIVE_S))
    return make_link(cfg, modem)  # by cfg["transport"]: udp, tcp, mqtt or coap


def _epoch(queue):
    # The boot epoch of the frames (nbkit.store.epoch): a damaged queue state may restart the
    # sequence numbers, so the records from now on get a new epoch and never reuse a name.
    from nbkit.store.epoch import Epoch

    epoch = Epoch(EPOCH_PATH)
    if queue.state_damaged:
        epoch.bump()  # durable first: a cut before repair() bumps again, never reuses
        queue.repair()
        log("queue state damaged: epoch", epoch.value)
    return epoch


def _wire_water(board, cfg, clock):
    from nbkit.app import water

    return water.wire(board, cfg, clock)


def _wire_bus(board, profile, bus, medium, clock):
    from nbkit.app import busmeter

    return busmeter.wire(board, profile, bus, medium, clock, log=log)
