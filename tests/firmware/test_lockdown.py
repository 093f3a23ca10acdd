# nbkit.app.lockdown: a production build turns Ctrl-C off before anything runs, never returns
# to the REPL (an unprovisioned device keeps its service console open instead), and resets the
# board on any error that leaves the application, KeyboardInterrupt and SystemExit included. A
# firmware without nbkit.build_profile counts as production (fail closed).
import sys

from nbkit.app import lockdown


class Board:
    def __init__(self):
        self.calls = []

    def kbd_intr(self, c):
        self.calls.append(("kbd_intr", c))

    def reset(self):
        self.calls.append(("reset",))


class _Module:
    pass


def _profile(name):
    mod = _Module()
    mod.PROFILE = name
    sys.modules["nbkit.build_profile"] = mod


def test_production_locks_first_and_resets_on_any_error():
    _profile("production")
    for exc in (ValueError("x"), KeyboardInterrupt(), SystemExit(0), MemoryError()):
        board = Board()

        def main(b, exc=exc):
            b.calls.append(("main",))
            raise exc

        lockdown.run(board, main)
        assert board.calls == [("kbd_intr", -1), ("main",), ("reset",)], board.calls


def test_production_unprovisioned_serves_the_console_instead_of_returning():
    _profile("production")
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
    _profile("production")
    board = Board()

    def main(b):
        from nbkit.app.service import OpenRepl

        raise OpenRepl()

    lockdown.run(board, main)
    assert board.calls == [("kbd_intr", -1), ("kbd_intr", 3)], board.calls


def test_development_keeps_the_repl_and_a_missing_profile_is_production():
    _profile("development")
    board = Board()
    lockdown.run(board, lambda b: None)
    assert board.calls == [], "development: no lock, main returns to the REPL"
    sys.modules["nbkit.build_profile"] = _Module()  # no PROFILE: the import fails
    assert lockdown.profile() == "production"


def test_lock_early_turns_ctrl_c_off_only_on_production():
    _profile("production")
    board = Board()
    lockdown.lock_early(board)
    assert board.calls == [("kbd_intr", -1)]
    _profile("development")
    board = Board()
    lockdown.lock_early(board)
    assert board.calls == []
