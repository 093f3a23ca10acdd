# The console lock of a production build (issue 16, finding 1). Outside an authenticated service
# session there is no REPL: Ctrl-C, Ctrl-A (raw REPL), Ctrl-D and Ctrl-E are plain bytes that the
# service console answers as bad input, main never returns to the REPL, and any error that leaves
# the application resets the board. A development build (nbkit.build_profile) keeps the REPL for
# mpremote, `nbkit deploy` and the HIL suite, and says so at boot.
#
# The one way to a REPL on a production build: an unlocked service session (service PIN or
# challenge-response with the device key) sends `repl confirm`; the window logs it, gives Ctrl-C
# back and main returns to the REPL until the next reset (docs/security.md).
#
# board: the hal board module; its kbd_intr(c) is micropython.kbd_intr on a board and the
# console pty's line discipline on the virtual board; reset() is machine.reset(); watchdog()
# is machine.WDT (the virtual board's WDT: the vboard host resets a board it does not hear from).
#
# Watchdog: a production run starts it before anything else (nbkit.hal.watchdog), so nothing,
# not a stray control byte in the service window, a wait that never ends or a hung wake, can
# park the board: every wait feeds it, a wake past its budget is reset. A development build runs
# without one (a developer's REPL session must not be reset under them).
from nbkit.app.window import OpenRepl
from nbkit.hal import watchdog


def profile():
    try:
        from nbkit.build_profile import PROFILE
    except ImportError:
        return "production"  # fail closed
    return PROFILE


def lock_early(board):
    # The first thing main.py does: on production, Ctrl-C off before any import or file work.
    # (What runs before main.py, boot.py and the port's own start-up, is not covered: freeze the
    # lock into the firmware image to close that window too, docs/security.md.)
    if profile() == "production":
        board.kbd_intr(-1)


def run(board, main):
    # Calls main(board) under the profile's rules; returns only to open the REPL.
    if profile() != "production":
        print("nbkit: DEVELOPMENT build: the Python REPL is open on the console (Ctrl-C)")
        try:
            main(board)
        except OpenRepl:
            pass
        return
    board.kbd_intr(-1)
    try:
        start_watchdog(board)
        try:
            _locked(board, main)
        except OpenRepl:
            board.kbd_intr(3)
            note = "" if watchdog.stop() else " (the watchdog resets the board after its timeout)"
            print("nbkit: REPL opened by an unlocked service session; reset to lock again" + note)
    except BaseException as exc:  # noqa: BLE001 - nothing may leave a production main alive
        print("nbkit: unexpected %s, resetting" % type(exc).__name__)
        board.reset()


def _locked(board, main):
    main(board)  # a provisioned device deep-sleeps inside: the next boot starts afresh
    # Not provisioned: no REPL to wait at. The service console stays open for the technician.
    from nbkit.app import service

    while True:
        service.serve_window(board, attention_s=600, idle_s=600)


def start_watchdog(board):
    # machine.WDT with the board data's watchdog_ms (else the board module's default)
    make = getattr(board, "watchdog", None)
    if make is not None and not watchdog.started():
        watchdog.start(make(board.board.get("watchdog_ms")), board.clock())
