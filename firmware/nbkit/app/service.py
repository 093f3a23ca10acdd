# The service window: the provisioning console (nbkit.console) on the console UART at a
# power-on or reset, before the meter cycle. A technician's tool (`nbkit provision`) sends a line
# within attention_s seconds (any line; the tool sends `ping <token>`); the device then answers
# console lines until the line `exit` arrives while no session is unlocked (`nbkit provision`
# sends `exit` after each command to lock, which keeps the window open for its next command),
# or until idle_s seconds pass without input. Then the meter cycle runs as usual.
# A timer wake from deep sleep opens no window: waiting on the UART at every wake costs energy.
# On a development build Ctrl-C on the console still raises KeyboardInterrupt (out of main.py
# into the REPL), so mpremote and `nbkit deploy` can break in while the window is open; on a
# production build Ctrl-C is a plain byte and only `repl confirm` after unlock opens the REPL
# (nbkit.app.lockdown).
#
# Parts on the device: the config file through nbkit.console.store_adapter (atomic writes), the
# wrong-attempt count on flash, the event log (nbkit.store.eventlog), the modem driver for
# identify, and self-test checks that use the real paths: AT, SIM (AT+CIMI), attach, a test
# uplink of a fresh meter reading that the collector must acknowledge, the meter input.
import json
import sys

from micropython import const

from nbkit.app.window import OpenRepl, opens_window
from nbkit.app.wiring import forget
from nbkit.hal import watchdog

CONFIG_PATH = "config.json"
EVENTS_PATH = "events.log"
ATTEMPTS_PATH = "service.attempts"
_POLL_MS = const(200)
_PIN_HASH = const("pbkdf2-sha256$")  # nbkit.console.auth: a stored PIN already hashed
# loaded for a window only (see _unload); a timer wake imports none of them
_WINDOW_MODULES = const(
    (
        "nbkit.app.service_parts",
        "nbkit.console.console",
        "nbkit.console.lines",
        "nbkit.console.auth",
        "nbkit.console.store_adapter",
        "nbkit.store.eventlog",
        "nbkit.hal.stdio",
        "nbkit.console",
    )
)


def serve_window(board, attention_s=None, idle_s=60, transport=None, root=""):
    # -> True when a technician used the window. Never raises: the meter cycle must go on.
    # root: directory of the device files ("" = the working directory, as device.py uses).
    # attention_s: 5 s on a board, where bytes sent while the MCU boots are lost and the
    # technician's tool must follow the reset; 0.2 s on the virtual board, whose console pty
    # keeps what a tool sent during the boot (and power cycles there are frequent: tests).
    # The board data may set both: "service_window": {"attention_s": 2, "idle_s": 30}.
    if not opens_window(board):
        _unload(())
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
    before = [name for name in _WINDOW_MODULES if name in sys.modules]
    try:
        return _serve_loaded(board, attention_s, idle_s, transport, root)
    finally:
        _unload(before)


def _unload(keep):
    # Forget the window's modules (those it imported) and this one, so the wake that follows has
    # their heap (app.device imports this module for the window only).
    forget([n for n in _WINDOW_MODULES + ("nbkit.app.service",) if n not in keep])


def _serve_loaded(board, attention_s, idle_s, transport, root):
    if transport is None:
        from nbkit.hal.stdio import StdioTransport

        transport = StdioTransport()
    clock = board.clock()
    banner = "nbkit: service console open for %s s (send a line, e.g. ping)" % attention_s
    if not _plain_pin(root + CONFIG_PATH):
        # The console's modules load only when a line starts to arrive: a power-on nobody
        # attends carries none of them (their interned names would stay for the whole wake).
        _move_key(root, clock)
        print(banner)
        banner = ""
        if not _attention(transport, clock, attention_s):
            print("nbkit: service console closed")
            return False
    from nbkit.app.service_parts import LoggedStore, Parts, ServiceConsole
    from nbkit.console.store_adapter import Attempts
    from nbkit.store.eventlog import EventLog

    events = EventLog(root + EVENTS_PATH, clock=clock)
    store = LoggedStore(root + CONFIG_PATH, events)
    if store.move_key():
        events.append("service: device key moved to its own file")
    if store.protect_pin():
        events.append("service: stored PIN replaced by its salted hash")
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
    if banner:
        print(banner)
    # Development: Ctrl-C keeps its REPL meaning (KeyboardInterrupt), a developer's mpremote /
    # nbkit deploy breaks in during the window. Production: lockdown.run turned it off.
    used = _loop(console, clock, attention_s, idle_s)
    if used:
        events.append("service: window closed after %d replies" % console.replies)
    print("nbkit: service console closed")
    if console.open_repl:
        events.append("service: REPL opened")
        raise OpenRepl()  # not an Exception: serve_window lets it through to lockdown.run
    return used


def _plain_pin(path):
    # -> True when config.json holds a plain PIN: the window's store replaces it by its salted
    # hash at this boot, attended or not (with the console's modules).
    try:
        with open(path) as f:
            pin = json.load(f).get("service_pin")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(pin, str) and pin != "" and not pin.startswith(_PIN_HASH)


def _move_key(root, clock):
    # The device key leaves config.json for its own file (nbkit.store.config.move_key), as the
    # window's store would do it, without loading the console.
    from nbkit.store import config

    if config.move_key(root + CONFIG_PATH):
        from nbkit.store.eventlog import EventLog

        EventLog(root + EVENTS_PATH, clock=clock).append(
            "service: device key moved to its own file"
        )


def _attention(transport, clock, attention_s):
    # -> True when input arrives within attention_s (left unread: the console reads it).
    start = clock.ticks_ms()
    limit_ms = int(attention_s * 1000)
    while True:
        left = limit_ms - clock.ticks_diff(clock.ticks_ms(), start)
        if transport.wait(max(0, min(_POLL_MS, left))):
            return True
        if left <= 0:
            return False


def _loop(console, clock, attention_s, idle_s):
    # Each poll feeds the watchdog (a production run's, nbkit.hal.watchdog) and restarts the
    # wake budget: a technician's session may be long, an idle window closes by itself.
    last = clock.ticks_ms()
    used = False
    while not console.done:
        watchdog.extend()
        limit_ms = int((idle_s if used else attention_s) * 1000)
        left = limit_ms - clock.ticks_diff(clock.ticks_ms(), last)
        if console.poll(max(0, min(_POLL_MS, left))):  # bytes already waiting always count
            last = clock.ticks_ms()
            used = True
        elif left <= 0:
            break
    return used
