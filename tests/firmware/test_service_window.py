# When the service window opens, how long it stays open, and that it never stops the meter
# cycle: nbkit.app.service.serve_window on a fake board, virtual time, a timed console.
from nbkit.app import service
from nbkit.hal.clock import ManualClock
from store_bench import MOUNT, PIN, mount, new_image, umount

HEAPSIZE = "256K"


class TimedConsole:
    # The console UART: bytes arrive at given virtual times; a wait moves the virtual clock.
    def __init__(self, clock, script):
        self.clock = clock
        self.script = list(script)  # [(at_ms, bytes)]
        self.rx = bytearray()
        self.tx = bytearray()
        self.reads = 0

    def _due(self):
        while self.script and self.script[0][0] <= self.clock.ticks_ms():
            self.rx.extend(self.script.pop(0)[1])
        return bool(self.rx)

    def wait(self, timeout_ms):
        if self._due():
            return True
        step = timeout_ms
        if self.script:
            step = min(step, self.script[0][0] - self.clock.ticks_ms())
        self.clock.advance(max(0, step))
        return self._due()

    def read(self, n):
        self.reads += 1
        data = bytes(self.rx[:n])
        self.rx = self.rx[n:]
        return data

    def write(self, data):
        self.tx.extend(data)
        return len(data)

    def close(self):
        pass


class FakeBoard:
    def __init__(self, cause=1, wake=None):
        self.cause = cause
        self.wake = wake
        self._clock = ManualClock()
        self.board = {"name": "fake", "modem": {"model": "bc95"}}

    def reset_cause(self):
        return self.cause

    def wake_reason(self):
        return self.wake

    def clock(self):
        return self._clock

    def modem(self):
        return None


def _window(board, script):
    mount(new_image())
    console = TimedConsole(board.clock(), script)
    used = service.serve_window(board, transport=console, root=MOUNT + "/")
    umount()
    return used, console


def test_a_timer_wake_opens_no_window():
    board = FakeBoard(cause=4, wake="timer")
    used, console = _window(board, [(0, b"ping x\r\n")])
    assert not used and console.reads == 0 and board.clock().ticks_ms() == 0


def test_power_on_without_a_line_waits_only_the_attention_time():
    board = FakeBoard(cause=1)
    used, console = _window(board, [])
    assert not used and console.tx == b""
    assert 5000 <= board.clock().ticks_ms() <= 5400, board.clock().ticks_ms()
    board = FakeBoard(cause=1)
    board.board["port"] = "unix"  # the virtual board: its console pty keeps early bytes
    used, console = _window(board, [])
    assert not used and 200 <= board.clock().ticks_ms() <= 400, board.clock().ticks_ms()


def test_a_line_in_time_keeps_it_open_until_idle():
    board = FakeBoard(cause=1)
    script = [(2000, b"ping a\r\n"), (50000, b"unlock " + PIN.encode() + b"\r\n")]
    used, console = _window(board, script)
    assert used and console.tx == b"pong: a\r\nOK\r\nOK\r\n", console.tx
    assert 110000 <= board.clock().ticks_ms() <= 110400, board.clock().ticks_ms()


def test_a_line_too_late_finds_the_window_closed():
    used, console = _window(FakeBoard(cause=1), [(6000, b"ping late\r\n")])
    assert not used and console.tx == b""


def test_exit_with_no_session_ends_the_window_at_once():
    board = FakeBoard(cause=1)
    script = [(1000, b"unlock " + PIN.encode() + b"\r\nexit\r\n"), (1500, b"exit\r\n")]
    used, console = _window(board, script)
    assert used and console.tx == b"OK\r\nOK\r\nOK\r\n", console.tx
    assert board.clock().ticks_ms() < 2000, board.clock().ticks_ms()


def test_attention_zero_still_takes_a_line_that_is_already_waiting():
    board = FakeBoard(cause=1)
    board.board["service_window"] = {"attention_s": 0}
    used, _ = _window(board, [])
    assert not used and board.clock().ticks_ms() == 0, board.clock().ticks_ms()
    board = FakeBoard(cause=1)
    board.board["service_window"] = {"attention_s": 0, "idle_s": 1}
    used, console = _window(board, [(0, b"ping early\r\n")])
    assert used and console.tx == b"pong: early\r\nOK\r\n", console.tx


def test_the_board_data_can_shorten_the_window():
    board = FakeBoard(cause=1)
    board.board["service_window"] = {"attention_s": 1, "idle_s": 2}
    used, _ = _window(board, [])
    assert not used and 1000 <= board.clock().ticks_ms() <= 1400, board.clock().ticks_ms()
    board = FakeBoard(cause=1)
    board.board["service_window"] = {"attention_s": 1, "idle_s": 2}
    used, _ = _window(board, [(500, b"ping\r\n")])
    assert used and 2500 <= board.clock().ticks_ms() <= 2900, board.clock().ticks_ms()


def test_a_pin_wake_from_deep_sleep_opens_it():
    used, console = _window(FakeBoard(cause=4, wake="button"), [(100, b"ping b\r\n")])
    assert used and console.tx.startswith(b"pong: b"), console.tx


def test_an_alarm_pin_wake_opens_no_window_the_alarm_goes_first():
    for pin in ("tamper", "smoke_adc"):
        used, console = _window(FakeBoard(cause=4, wake=pin), [(0, b"ping\r\n")])
        assert not used and console.tx == b"", (pin, console.tx)


def test_identify_without_a_modem_is_an_error_answer_and_a_broken_console_never_raises():
    board = FakeBoard(cause=1)
    used, console = _window(board, [(100, b"identify\r\nexit\r\n")])
    assert used and b"ERR 503 modem not answering" in console.tx, console.tx

    class Broken(TimedConsole):
        def wait(self, timeout_ms):
            raise OSError(5)

    mount(new_image())
    assert (
        service.serve_window(board, transport=Broken(board.clock(), []), root=MOUNT + "/") is False
    )
    umount()


def test_the_button_opens_the_window_unless_the_profile_uses_it():
    from nbkit.app.window import opens_window

    assert opens_window(FakeBoard(cause=4, wake="button"), "water")  # the meter's service button
    assert opens_window(FakeBoard(cause=4, wake="button"))  # profile unknown yet: it opens
    # the smoke alarm's test/hush button is the user's: the hush does not wait for a window
    assert not opens_window(FakeBoard(cause=4, wake="button"), "smoke")
    assert opens_window(FakeBoard(cause=1, wake=None), "smoke")  # a power-on always opens it
