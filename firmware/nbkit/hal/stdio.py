# The console UART as a Transport (docs/architecture.md): sys.stdin / sys.stdout, which are the
# REPL UART on a board (ESP32 UART0, RP2040 USB-CDC) and the console pty on the virtual board.
# wait() sleeps in select.poll; read() takes only the bytes poll says are there (a blocking
# stream's read(n) would wait for all n). At end of input (stdin closed: POLLIN with no byte)
# wait() sleeps out its timeout instead of spinning.
import select
import sys
import time

from micropython import const

_CHUNK = const(64)
# The virtual board's SimClock when it runs under a time master (set by nbkit.hal.unix_board):
# then wait() blocks in virtual time, paced (at wall speed) while someone is at the console.
SIM = None


class StdioTransport:
    def __init__(self, stdin=None, stdout=None):
        self._in = stdin if stdin is not None else getattr(sys.stdin, "buffer", sys.stdin)
        self._out = stdout if stdout is not None else getattr(sys.stdout, "buffer", sys.stdout)
        self._poll = select.poll()
        self._poll.register(stdin if stdin is not None else sys.stdin, select.POLLIN)
        self._eof = False

    def write(self, data):
        n = self._out.write(data)
        return len(data) if n is None else n

    def read(self, n):
        out = bytearray()
        while len(out) < min(n, _CHUNK) and not self._eof and self._poll.poll(0):
            b = self._in.read(1)
            if not b:
                self._eof = True
                break
            out += b  # type: ignore[arg-type]  # bytes: the stubs type stdin as text
        return bytes(out)

    def wait(self, timeout_ms):
        timeout_ms = max(0, int(timeout_ms))
        if SIM is not None:
            deadline = SIM.ticks_ms() + timeout_ms
            return bool(SIM.block(None if self._eof else self._poll, deadline))
        if self._eof:
            time.sleep_ms(timeout_ms)  # type: ignore[attr-defined]
            return False
        return bool(self._poll.poll(timeout_ms))

    def close(self):
        pass  # the console UART stays open: it is the REPL's too
