# UartTransport over an injected UART object that behaves as machine.UART does: any(), read(n)
# returning None when empty, write(), and the stream ioctl that select.poll uses on a board.
import io
import select
import time

from nbkit.at.engine import Engine
from nbkit.hal.clock import Clock
from nbkit.hal.uart import UartTransport

_MP_STREAM_POLL = 3


class FakeUart(io.IOBase):
    # A modem on the far side of the wire: answers each "...\r" with the next canned reply.

    def __init__(self, replies=()):
        self.rx = b""
        self.tx = b""
        self.replies = list(replies)

    def ioctl(self, req, arg):
        if req == _MP_STREAM_POLL:
            return select.POLLIN if (arg & select.POLLIN) and self.rx else 0
        return -1  # no file descriptor: poll asks ioctl instead

    def any(self):
        return len(self.rx)

    def read(self, n=-1):
        data, self.rx = self.rx[:n], self.rx[n:]
        return data or None

    def write(self, data):
        self.tx += bytes(data)
        if self.tx.endswith(b"\r") and self.replies:
            self.rx += self.replies.pop(0)
        return len(data)


def test_read_returns_what_is_buffered_and_never_none():
    uart = FakeUart()
    t = UartTransport(uart)
    assert t.read(16) == b""
    uart.rx = b"\r\nOK\r\n+CSCON:1\r\n"
    assert t.read(6) == b"\r\nOK\r\n" and t.read(64) == b"+CSCON:1\r\n"


def test_wait_sleeps_in_poll_until_timeout_or_data():
    uart = FakeUart()
    t = UartTransport(uart)
    start = time.ticks_ms()
    assert t.wait(30) is False
    assert time.ticks_diff(time.ticks_ms(), start) >= 25
    uart.rx = b"x"
    start = time.ticks_ms()
    assert t.wait(1000) is True
    assert time.ticks_diff(time.ticks_ms(), start) < 500


def test_engine_over_the_uart_transport_in_real_time():
    uart = FakeUart([b"\r\n+CSQ:18,99\r\n\r\nOK\r\n"])
    engine = Engine(UartTransport(uart), Clock())
    reply = engine.command("AT+CSQ", "+CSQ:", 500)
    assert reply.ok and reply.lines == ["+CSQ:18,99"], reply
    assert uart.tx == b"AT+CSQ\r", uart.tx
    assert engine.command("AT", None, 40).result == "TIMEOUT"


def test_close_leaves_the_injected_uart_alone():
    uart = FakeUart()
    t = UartTransport(uart)
    t.close()
    uart.rx = b"still usable"
    assert uart.read(5) == b"still"
