# The virtual board's power requests under the time master (nbkit.hal.unix_board._power): once
# a board has reported its counters and asked to be powered down, its UARTs are the host's to
# drain and count. A byte it took afterwards would die with it uncounted, and the master would
# see it in flight for ever (a stalled run). A Ctrl-C that keeps it awake gives them back.
from nbkit.hal import unix_board

HEAPSIZE = "256K"


class Sim:
    def __init__(self, uarts):
        self.uarts = uarts
        self.during = None  # sim.uarts while the board waited to be powered down
        self.flushed = False
        self.counts = {}

    def count(self, key, n):
        self.counts[key] = self.counts.get(key, 0) + n

    def flush(self):
        self.flushed = True

    def block(self, poller, deadline_ms):
        self.during = list(self.uarts)
        raise KeyboardInterrupt  # the host sent Ctrl-C instead of cutting the power


class Ctl:
    def __init__(self):
        self.sent = []

    def send(self, data):
        self.sent.append(data)


def test_a_board_asking_to_sleep_leaves_its_uarts_to_the_host_until_it_is_kept_awake():
    modem_uart = object()
    sim, ctl = Sim([modem_uart]), Ctl()
    saved = dict(unix_board._state)
    unix_board._state.update({"sim": sim, "ctl": ctl, "ctl_chan": "m0.ctl.b1."})
    try:
        try:
            unix_board._power("deepsleep 900000")
            raise AssertionError("the power request returned")
        except KeyboardInterrupt:
            pass
    finally:
        unix_board._state.clear()
        unix_board._state.update(saved)
    assert sim.flushed and ctl.sent == [b"deepsleep 900000"], (sim.flushed, ctl.sent)
    assert sim.during == [], sim.during  # nothing taken from a UART while waiting for the cut
    assert sim.uarts == [modem_uart]  # awake at the REPL: its UARTs again
