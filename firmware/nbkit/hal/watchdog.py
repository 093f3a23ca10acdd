# The watchdog of a production run (nbkit.app.lockdown starts it): machine.WDT on a board, the
# virtual board's WDT (nbkit.hal.unix_board: the vboard host resets the board when no feed comes
# within the timeout, in the board's virtual time). Once started it cannot be stopped on a
# board: every wait feeds it (the AT engine's command and URC waits, the service console's poll,
# the smoke app's awake loop) through feed() here, which any layer may call.
#
# A wake has a budget (budget_ms of clock ticks, from start() or the last extend()): past it,
# feed() stops feeding, so a wake that overruns (a retry loop that never ends, a wait that keeps
# waiting) is reset by the watchdog even while it still calls feed(). Deep sleep ends the wake;
# the next boot starts afresh. Nothing started (tests, development builds): feed() does nothing.
from micropython import const

_BUDGET_MS = const(600000)  # one wake: attach (120 s) + 8 frames with their ack waits, and more


class _Wd:
    wdt = None  # an object with feed() (machine.WDT), or None: not started
    clock = None  # ticks_ms / ticks_diff (hal.clock)
    since = 0  # ticks at start / the last extend()
    budget = _BUDGET_MS


def start(wdt, clock, budget_ms=_BUDGET_MS):
    _Wd.wdt, _Wd.clock, _Wd.budget = wdt, clock, budget_ms
    _Wd.since = clock.ticks_ms()
    wdt.feed()


def started():
    return _Wd.wdt is not None


def extend():
    # A new unit of legitimate work (the smoke app's next awake step): the budget starts again.
    clock = _Wd.clock
    if clock is not None:
        _Wd.since = clock.ticks_ms()
        feed()


def overrun():
    # True when the wake has used up its budget (feed() no longer feeds).
    clock = _Wd.clock
    return clock is not None and clock.ticks_diff(clock.ticks_ms(), _Wd.since) > _Wd.budget


def feed():
    wdt = _Wd.wdt
    if wdt is not None and not overrun():
        wdt.feed()


def stop():
    # Only for an explicitly opened REPL: a watchdog that can stop (the virtual board's) stops;
    # machine.WDT on most ports cannot, and then resets the board after its timeout.
    wdt = _Wd.wdt
    _Wd.wdt = _Wd.clock = None
    deinit = getattr(wdt, "deinit", None)
    if deinit is not None:
        deinit()
        return True
    return False
