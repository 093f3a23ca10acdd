# Transport over an injected machine.UART (board ports: esp32, rp2) (MIT licence).
#
# The board wiring (main.py) builds the UART; this wrapper never constructs hardware. wait()
# is select.poll on the UART (both ports support it), so the CPU sleeps until bytes arrive.
import select


class UartTransport:
    def __init__(self, uart):
        self.uart = uart
        self._poll = select.poll()
        self._poll.register(uart, select.POLLIN)

    def write(self, data):
        n = self.uart.write(data)
        return n or 0

    def read(self, n):
        # What is buffered now, up to n bytes; b"" when nothing (never waits: only any()).
        ready = self.uart.any()
        if not ready:
            return b""
        return self.uart.read(min(n, ready)) or b""

    def wait(self, timeout_ms):
        if self.uart.any():
            return True
        return bool(self._poll.poll(max(0, timeout_ms)))

    def close(self):
        # The UART belongs to whoever made it; only stop polling it.
        self._poll.unregister(self.uart)
