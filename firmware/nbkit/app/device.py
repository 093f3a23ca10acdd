# Wires the application from the board and the stored configuration, runs one wake, then
# deep-sleeps the board until the scheduler's next wake. `board` is the hal board module:
# nbkit.hal.unix_board on the virtual board, nbkit.hal.machine_board on a real one. Both give:
#   board.board (data), clock(), modem() -> Transport, pin(name), deepsleep(ms[, wake_pins]),
#   reset_cause(), meterbus() -> Transport or None; the virtual board also wake_reason()
import gc

from micropython import const

from nbkit.app import power
from nbkit.app.links import make_link, make_modem
from nbkit.app.meter import MeterApp
from nbkit.app.service import serve_window
from nbkit.at.engine import Engine
from nbkit.store import config
from nbkit.store.queue import Queue

CONFIG_PATH = "config.json"
QUEUE_DIR = "queue"
EPOCH_PATH = "epoch"
_CRASH_SLEEP_MS = const(60000)  # an unexpected error: log it, sleep a minute, start afresh
_LINE_MAX = const(2800)  # AT lines: +NSONMI modes 2/3 carry the datagram in hex
_PSM_TAU_S = const(86400)  # requested T3412: a periodic TAU once a day at most
_PSM_ACTIVE_S = const(10)  # requested T3324: PSM 10 s after the RRC release
_PSM_FALLBACK = power.FALLBACK_AUTO  # PSM denied: CFUN=0 or stay, whichever costs less


def log(*args):
    print("nbkit:", *args)


def build(board, cfg):
    # -> the application the config's profile asks for, wired to this board's modem and flash:
    #   water               app.water.WaterMeter: hardware pulse counter on pulse_a (reverse
    #                       pulses on the board's pulse_reverse counter), magnet sensor on tamper
    #   gas-cjt188          a CJ/T 188 gas/water meter read over the meter bus at every sample
    #   electricity-dlt645  a DL/T 645-2007 meter (combined/forward/reverse energy), meter bus
    #   smoke               app.smoke_app.SmokeApp on smoke_adc, button, tamper, battery_adc
    clock = board.clock()
    model = board.board["modem"]["model"]
    engine = Engine(board.modem(), clock, line_max=_LINE_MAX)
    modem = make_modem(model, engine, clock, cfg, psm=(_PSM_TAU_S, _PSM_ACTIVE_S))
    link = make_link(cfg, modem)  # by cfg["transport"]: udp, tcp, mqtt or coap
    queue = Queue(QUEUE_DIR)
    epoch = _epoch(queue)
    gc.collect()  # the modem stack's start-up garbage goes before the profile's modules load
    profile = cfg.get("profile", "water")
    if profile == "smoke":
        return _smoke(board, cfg, clock, queue, link, epoch=epoch)
    meter = _meter(board, cfg, profile, clock)
    return MeterApp(cfg, clock, queue, meter, link, log=log, epoch=epoch)


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


def _water(board, cfg, clock):
    from nbkit.app.water import WaterMeter
    from nbkit.sense.pulse import HwCounter

    rev = board.board.get("pulse_reverse")
    counter = HwCounter(board.pin("pulse_a"), board.pin(rev) if rev else None)
    return WaterMeter(counter, clock, cfg, field_pin=board.pin("tamper"))


def _meter(board, cfg, profile, clock):
    if profile == "water":
        return _water(board, cfg, clock)
    from nbkit.app import busmeter

    transport = board.meterbus() if hasattr(board, "meterbus") else None
    if transport is None:
        raise ValueError("profile %s needs a meter bus (board data 'meterbus')" % profile)
    if profile == "gas-cjt188":
        return busmeter.Cjt188Meter(transport, clock, log=log)
    return busmeter.Dlt645Meter(transport, clock, log=log)


def _battery(board):
    # battery mV from the battery_adc pin: read_u16() * full scale / 65535 (board data
    # battery_full_scale_mv: the divider and reference; on the virtual board the value is mV)
    pin = board.pin("battery_adc")
    full = board.board.get("battery_full_scale_mv", 65535)

    def battery_mv():
        return pin.read_u16() * full // 65535

    return battery_mv


def _smoke(board, cfg, clock, queue, link, *, epoch=None):
    from nbkit.app.smoke_app import SensorClock, SmokeApp
    from nbkit.sense.smoke import SmokeSensor

    sensor = SmokeSensor(
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
        log=log,
        epoch=epoch,
    )


def run(board):
    # One wake of the device; never returns on a board (deep sleep resets the MCU).
    serve_window(board)  # power-on/reset: the provisioning console first (app/service.py)
    try:
        cfg = config.load(CONFIG_PATH)
    except config.ConfigError as exc:
        # Factory state: stay awake at the REPL/console for the technician (mpremote, nbkit
        # provision) instead of sleeping where nobody can reach the device.
        log("not provisioned:", exc)
        return
    pins = None
    try:
        app = build(board, cfg)
        cause = board.reset_cause()
        if cause != board.DEEPSLEEP_RESET:
            app.booted(cause)
        ms = app.wake()
        pins = getattr(app, "wake_pins", None)
        if app.link.used and not app.sched.psm:
            after = power.after_report(False, _PSM_FALLBACK, cfg["report_interval_s"])
            if after == power.ACTION_CFUN0:  # the network denied PSM: radio off until the next
                app.link.modem.power_down()  # report instead of idling at DRX current
    except Exception as exc:  # never stay stuck in the REPL: a board in the field is alone
        import sys

        log(
            "error, retrying after a sleep (heap free %d, used %d):"
            % (gc.mem_free(), gc.mem_alloc())
        )
        sys.print_exception(exc)
        ms = _CRASH_SLEEP_MS
    log("sleep", ms // 1000, "s")
    if pins:
        board.deepsleep(ms, pins)  # a wake pin reaching its level ends the sleep at once
    else:
        board.deepsleep(ms)
