# nbkit.app.lockdown: a production build turns Ctrl-C off before anything runs, never returns
# to the REPL (an unprovisioned device keeps its service console open instead), and resets the
# board on any error that leaves the application, KeyboardInterrupt and SystemExit included. A
# firmware without nbkit.build_profile counts as production (fail closed).

from app_fakes import build_profile
from nbkit.app import lockdown


class Board:
    def __init__(self):
        self.calls = []

    def kbd_intr(self, c):
        self.calls.append(("kbd_intr", c))

    def reset(self):
        self.calls.append(("reset",))


def test_production_locks_first_and_resets_on_any_error():
    build_profile("production")
    for exc in (ValueError("x"), KeyboardInterrupt(), SystemExit(0), MemoryError()):
        board = Board()

        def main(b, exc=exc):
            b.calls.append(("main",))
            raise exc

        lockdown.run(board, main)
        assert board.calls == [("kbd_intr", -1), ("main",), ("reset",)], board.calls


def test_production_unprovisioned_serves_the_console_instead_of_returning():
    build_profile("production")
    from nbkit.app import service

    windows = []

    def window(board, attention_s=None, idle_s=60):
        windows.append(attention_s)
        if len(windows) == 3:
            raise KeyboardInterrupt()  # stands for "forever"; lockdown resets on it
        return False

    saved, service.serve_window = service.serve_window, window
    try:
        board = Board()
        lockdown.run(board, lambda b: None)  # device.run returned: not provisioned
    finally:
        service.serve_window = saved
    assert windows == [600, 600, 600] and board.calls[-1] == ("reset",), (windows, board.calls)


def test_repl_confirm_gives_ctrl_c_back():
    build_profile("production")
    board = Board()

    def main(b):
        from nbkit.app.service import OpenRepl

        raise OpenRepl()

    lockdown.run(board, main)
    assert board.calls == [("kbd_intr", -1), ("kbd_intr", 3)], board.calls


def test_development_keeps_the_repl_and_a_missing_profile_is_production():
    build_profile("development")
    board = Board()
    lockdown.run(board, lambda b: None)
    assert board.calls == [], "development: no lock, main returns to the REPL"
    build_profile(None)  # no PROFILE: the import fails
    assert lockdown.profile() == "production"


def test_lock_early_turns_ctrl_c_off_only_on_production():
    build_profile("production")
    board = Board()
    lockdown.lock_early(board)
    assert board.calls == [("kbd_intr", -1)]
    build_profile("development")
    board = Board()
    lockdown.lock_early(board)
    assert board.calls == []
