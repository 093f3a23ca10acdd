# One wake of the device: the service window after a reset (app.service), the application
# wired from the board and the stored configuration (app.wiring), then deep sleep until the
# scheduler's next wake. `board` is the hal board module: nbkit.hal.unix_board on the virtual
# board, nbkit.hal.machine_board on a real one; beyond what app.wiring uses both give
# deepsleep(ms[, wake_pins]) and reset_cause().
# A fault of the modem, the link or the collector never reaches this module: the app handles
# it (app.uplink classifies, app.scheduler backs off, the sample slots go on). What does reach
# the last resort here (a bug, a MemoryError) is logged (console and the event log), counted as
# a crash in the app's state (reported upstream as REPORT_FAULT 6 with the next uplink, the
# report backed off) and the board is reset (machine.reset(); unix_board.reset() on the virtual
# board). A board that could not even build its app sleeps a minute instead: resetting at once
# would only fail again at once.
import gc

from micropython import const

from nbkit.app import lockdown
from nbkit.app.wiring import build, forget, log

CONFIG_PATH = "config.json"
EVENTS_PATH = "events.log"
_CRASH_SLEEP_MS = const(60000)  # no app to save: log it, sleep a minute, start afresh
_PSM_FALLBACK = const(
    "auto"
)  # power.FALLBACK_AUTO: PSM denied: CFUN=0 or stay, whichever costs less


def run(board):
    # One wake of the device; never returns on a board (deep sleep resets the MCU).
    _window(board)  # power-on/reset: the provisioning console first (app/service.py)
    cfg = _config()
    if isinstance(cfg, str):
        # Factory state: stay awake at the REPL/console for the technician (mpremote, nbkit
        # provision) instead of sleeping where nobody can reach the device.
        log("not provisioned:", cfg)
        return
    pins = None
    app = None
    try:
        app = build(board, cfg)
        cause = board.reset_cause()
        if cause != board.DEEPSLEEP_RESET:
            app.booted(cause)
        ms = app.wake()
        pins = getattr(app, "wake_pins", None)
        if app.link.used and not app.sched.psm:
            from nbkit.app import power  # loaded only when the network denied PSM

            after = power.when_psm_denied(app.link.modem, _PSM_FALLBACK, cfg["report_interval_s"])
            if after == power.ACTION_CFUN0:  # the network denied PSM: radio off until the next
                app.link.modem.power_down()  # report instead of idling at DRX current
    except Exception as exc:  # the last resort: a board in the field is alone
        _last_resort(board, app, exc)
        ms = _CRASH_SLEEP_MS
    log("sleep", ms // 1000, "s")
    if pins:
        board.deepsleep(ms, pins)  # a wake pin reaching its level ends the sleep at once
    else:
        board.deepsleep(ms)


def _config():
    # -> the stored configuration, validated, or why there is none (text). The validation's
    # tables and checks (nbkit.store.config) leave the heap again before the wake goes on.
    from nbkit.store import config

    try:
        return config.load(CONFIG_PATH)
    except config.ConfigError as exc:
        return str(exc)
    finally:
        forget(("nbkit.store.config",))


def _window(board):
    # The service window's module unloads itself after the window; a timer wake opens none and
    # does not load it (its names would stay interned in the wake's heap).
    if not lockdown.opens_window(board):
        return
    from nbkit.app import service

    service.serve_window(board)


def _last_resort(board, app, exc):
    # Log the reason, save what the app knows, reset the board (returns only without an app).
    import sys

    why = "%s: %s" % (type(exc).__name__, exc)
    app_ok = app is not None and hasattr(app, "crashed")
    gc.collect()
    log("unexpected error (heap free %d, used %d):" % (gc.mem_free(), gc.mem_alloc()), why)
    sys.print_exception(exc)
    for step, arg in ((_event_log, (board, why)), (app.crashed if app_ok else None, (why,))):
        try:
            if step is not None:
                step(*arg)  # the event log line; the app: counted, backed off, saved
        except Exception as again:  # noqa: BLE001 - the reset must happen all the same
            log("last resort:", repr(again))
    if app_ok:
        log("resetting the board")
        board.reset()


def _event_log(board, why):
    from nbkit.store.eventlog import EventLog

    EventLog(EVENTS_PATH, clock=board.clock()).append(("crash: " + why)[:100])
