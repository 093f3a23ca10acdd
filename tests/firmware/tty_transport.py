# Test-only tty transport for the unix port (the board's real one is nbkit.hal.tty, written
# elsewhere): the nbkit.hal transport contract over a pty or serial device, given as a path or
# as an inherited file descriptor. Reads one byte per syscall while poll says more is there,
# so it never blocks and needs no O_NONBLOCK (which MicroPython's os cannot set).
import select


class TtyTransport:
    def __init__(self, target):
        self._f = open(target, "r+b")
        if isinstance(target, str):
            import termios

            termios.setraw(self._f.fileno())
        self._poll = select.poll()
        self._poll.register(self._f, select.POLLIN)
        self._one = bytearray(1)

    def _readable(self, timeout_ms):
        for _obj, events in self._poll.poll(timeout_ms):
            if events & select.POLLIN:
                return True
            if events & (select.POLLHUP | select.POLLERR):
                raise OSError("console tty closed")
        return False

    def wait(self, timeout_ms):
        return self._readable(timeout_ms)

    def read(self, n):
        out = bytearray()
        while len(out) < n and self._readable(0):
            if not self._f.readinto(self._one, 1):
                break
            out.append(self._one[0])
        return bytes(out)

    def write(self, data):
        return self._f.write(data) or 0

    def close(self):
        self._f.close()
