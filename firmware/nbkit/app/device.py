# One wake of the device: the service window after a reset (app.service), the application
# wired from the board and the stored configuration (app.wiring), then deep sleep until the
# scheduler's next wake. `board` is the hal board module: nbkit.hal.unix_board on the virtual
# board, nbkit.hal.machine_board on a real one; beyond what app.wiring uses both give
# deepsleep(ms[, wake_pins]) and reset_cause().
import gc

from micropython import const

from nbkit.app.wiring import build, log
from nbkit.store import config

CONFIG_PATH = "config.json"
_CRASH_SLEEP_MS = const(60000)  # an unexpected error: log it, sleep a minute, start afresh
_PSM_FALLBACK = "auto"  # power.FALLBACK_AUTO: PSM denied: CFUN=0 or stay, whichever costs less


def run(board):
    # One wake of the device; never returns on a board (deep sleep resets the MCU).
    _window(board)  # power-on/reset: the provisioning console first (app/service.py)
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
            from nbkit.app import power  # loaded only when the network denied PSM

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


def _window(board):
    # The service window's module unloads itself after the window (or at once on a timer wake).
    from nbkit.app import service

    service.serve_window(board)
