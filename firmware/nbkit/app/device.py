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
import json

from micropython import const

from nbkit.app.window import opens_window
from nbkit.app.wiring import build, forget, log

CONFIG_PATH = "config.json"
EVENTS_PATH = "events.log"
_CRASH_SLEEP_MS = const(60000)  # no app to save: log it, sleep a minute, start afresh
# power.FALLBACK_AUTO: PSM denied: CFUN=0 or stay, whichever costs less
_PSM_FALLBACK = const("auto")
_KEY_PATH = const("device.key")  # nbkit.store.config.key_path(CONFIG_PATH)
# A power-on or reset ends after the window and the config check in a short deep sleep: the
# meter cycle then starts in a fresh heap (the names the window's and the check's code interned
# stay for the whole wake: MicroPython never frees an interned name). The reset cause waits for
# it in this file (app.booted: the boot record, a report at once).
_BOOTED_PATH = const("booted")
_FRESH_MS = const(1000)


def run(board):
    # One wake of the device; never returns on a board (deep sleep resets the MCU).
    # a timer or pin wake: the config as the last checked boot left it (its profile says
    # whether the board's button is the service button or the app's own)
    saved = _as_checked() if board.reset_cause() == board.DEEPSLEEP_RESET else None
    windowed = opens_window(board, saved.get("profile") if saved else None)
    if windowed:  # power-on/reset: the provisioning console first (app/service.py)
        _window(board)
    cfg = saved if saved is not None and not windowed else _checked_config()
    if isinstance(cfg, str):
        # Factory state: stay awake at the REPL/console for the technician (mpremote, nbkit
        # provision) instead of sleeping where nobody can reach the device.
        log("not provisioned:", cfg)
        return
    cause = board.reset_cause()
    if cause != board.DEEPSLEEP_RESET and _afresh(board, cause):
        return  # (a board does not return from its deep sleep)
    pins = None
    app = None
    try:
        app = build(board, cfg)
        _booted(app, cause, board.DEEPSLEEP_RESET)
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


def _checked_config():
    # -> the stored configuration, or why there is none (text): validated by
    # nbkit.store.config, and the file completed with the defaults of the settings it lacks.
    # A power-on, a reset and a wake by the service button come here (the window may have
    # changed the file), and a wake that could not read it as it was (_as_checked); that
    # module (its checks, their names interned for the rest of the wake) leaves the heap again.
    # Other wakes read the file as the last checked wake left it (nothing else writes it).
    from nbkit.store import config

    try:
        cfg = config.load(CONFIG_PATH)
        config.complete(CONFIG_PATH, cfg)
        return cfg
    except config.ConfigError as exc:
        return str(exc)
    finally:
        forget(("nbkit.store.config",))


def _as_checked():
    # -> config.json with the device key (its own file), as a checked wake left them; or None
    try:
        with open(CONFIG_PATH) as f:
            cfg = json.load(f)
        with open(_KEY_PATH) as f:
            cfg["key"] = f.read(80).strip()
    except (OSError, ValueError, TypeError):
        return None
    return cfg


def _afresh(board, cause):
    # A power-on or reset: the cause goes to _BOOTED_PATH, then a deep sleep of _FRESH_MS.
    # False (the meter cycle runs in this wake) when the file cannot be written.
    try:
        with open(_BOOTED_PATH, "w") as f:
            f.write("%d" % cause)
    except OSError as exc:
        log("boot record in this wake:", exc)
        return False
    log("sleep", _FRESH_MS // 1000, "s: the meter cycle starts afresh")
    board.deepsleep(_FRESH_MS)
    return True


def _booted(app, cause, deepsleep_reset):
    # The boot a power-on left (or this wake's own, when it could not leave one): the app's
    # boot record (queued, durable) first, then the file goes.
    if cause == deepsleep_reset:
        try:
            with open(_BOOTED_PATH) as f:
                cause = int(f.read(8))
        except (OSError, ValueError):
            return
    app.booted(cause)
    try:
        import os

        os.remove(_BOOTED_PATH)
    except OSError:
        pass


def _window(board):
    # The service window's module unloads itself after the window (app.service).
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
