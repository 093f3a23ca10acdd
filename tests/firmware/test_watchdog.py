# The watchdog contract (issue 15, item 4): a production run starts machine.WDT (the virtual
# board's WDT on the unix port) before anything else; every wait feeds it, in slices short
# enough that a legitimate long wait never starves it; a wake that overruns its budget stops
# feeding and is reset; a development build runs without one; a REPL opened on purpose by an
# unlocked service session stops a watchdog that can stop.

from app_fakes import build_profile
from fakes import modem
from nbkit.app import lockdown
from nbkit.hal import watchdog
from nbkit.hal.clock import ManualClock


class Wdt:
    def __init__(self, timeout=None):
        self.timeout = timeout
        self.feeds = 0
        self.stopped = False

    def feed(self):
        self.feeds += 1

    def deinit(self):
        self.stopped = True


class Board:
    def __init__(self):
        self.calls = []
        self.board = {"watchdog_ms": 30000}
        self.wdt = None
        self._clock = ManualClock()

    def kbd_intr(self, c):
        self.calls.append(("kbd_intr", c))

    def reset(self):
        self.calls.append(("reset",))

    def clock(self):
        return self._clock

    def watchdog(self, timeout_ms):
        self.wdt = Wdt(timeout_ms)
        return self.wdt


def _forget():
    watchdog.stop()


def test_every_wait_of_the_at_engine_feeds_it_in_slices():
    _forget()
    engine, fake, clock = modem()
    wdt = Wdt()
    watchdog.start(wdt, clock)
    fake.expect(b"AT+CGATT=1\r")  # the modem never answers
    t0 = clock.ticks_ms()
    reply = engine.command("AT+CGATT=1", None, 20000)
    assert reply.result == "TIMEOUT" and clock.ticks_ms() - t0 == 20000
    assert wdt.feeds >= 20, wdt.feeds  # at least one feed a second of waiting
    feeds = wdt.feeds
    engine.idle(5000)  # waiting for URCs between commands feeds too
    assert wdt.feeds >= feeds + 5, wdt.feeds
    _forget()


def test_a_wake_past_its_budget_stops_feeding_until_extended():
    _forget()
    clock = ManualClock()
    wdt = Wdt()
    watchdog.start(wdt, clock, budget_ms=10000)
    clock.advance(9000)
    watchdog.feed()
    assert wdt.feeds == 2 and not watchdog.overrun()
    clock.advance(2000)
    watchdog.feed()  # a wake that keeps waiting past its budget: the watchdog will bite
    assert wdt.feeds == 2 and watchdog.overrun()
    watchdog.extend()  # a new unit of work (the service console's poll, a smoke step)
    assert wdt.feeds == 3 and not watchdog.overrun()
    _forget()


def test_nothing_started_feeds_nothing_and_costs_nothing():
    _forget()
    assert not watchdog.started()
    watchdog.feed()
    watchdog.extend()
    assert not watchdog.overrun()


def test_production_starts_the_board_watchdog_before_main():
    _forget()
    build_profile("production")
    board = Board()
    seen = []

    def main(b):
        seen.append((b.wdt is not None, b.wdt and b.wdt.timeout, watchdog.started()))
        raise ValueError("a bug")

    lockdown.run(board, main)
    assert seen == [(True, 30000, True)], seen
    assert board.calls == [("kbd_intr", -1), ("reset",)], board.calls
    _forget()


def test_development_runs_without_a_watchdog():
    _forget()
    build_profile("development")
    board = Board()
    lockdown.run(board, lambda b: None)
    assert board.wdt is None and not watchdog.started()


def test_a_repl_opened_on_purpose_stops_a_watchdog_that_can_stop():
    _forget()
    build_profile("production")
    board = Board()

    def main(b):
        from nbkit.app.service import OpenRepl

        raise OpenRepl()

    lockdown.run(board, main)
    assert board.wdt.stopped and not watchdog.started()
    assert board.calls == [("kbd_intr", -1), ("kbd_intr", 3)], board.calls
