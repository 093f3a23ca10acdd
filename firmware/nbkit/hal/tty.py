# Transport over a tty device on the MicroPython unix port (virtual board, e2e tests)
# (MIT licence).
#
# Opens a path such as /dev/pts/N (the emulator's pty) in raw mode with termios.setraw, then
# VMIN=0 / VTIME=0 so read() returns at once with what is there. wait() is select.poll. A hung-up
# peer (pty master closed) makes poll return at once (POLLIN|POLLERR|POLLHUP, read() gives b""):
# once nothing is left to read, wait() sleeps out its timeout instead of spinning (hangups).
import select
import termios
import time

_VTIME = 5  # index in the termios cc list (Linux)
_VMIN = 6


class TtyTransport:
    def __init__(self, path, baud=None):
        self.path = path
        self.hangups = 0
        self._hup = False  # poll reported POLLHUP/POLLERR
        self._gone = False  # ...and nothing was left to read: the other end has closed
        self._f = open(path, "r+b", buffering=0)  # closed by close()
        fd = self._f.fileno()
        termios.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[6][_VMIN] = 0
        attrs[6][_VTIME] = 0
        if baud:
            speed = getattr(termios, "B%d" % baud)
            attrs[4] = speed
            attrs[5] = speed
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        self._poll = select.poll()
        self._poll.register(self._f, select.POLLIN)

    def write(self, data):
        return self._f.write(data) or 0

    def read(self, n):
        try:
            data = self._f.read(n)
        except OSError:
            data = None  # EIO once the other end has gone
        if not data and self._hup:
            self._hung_up()  # poll said hang-up and nothing is left: silence from now on
        return data or b""

    def wait(self, timeout_ms):
        timeout_ms = max(0, timeout_ms)
        events = [] if self._gone else self._poll.poll(timeout_ms)
        if not events:
            if self._gone:
                time.sleep_ms(timeout_ms)  # type: ignore[attr-defined]
            return False
        flags = events[0][1]
        if flags & (select.POLLHUP | select.POLLERR):
            self._hup = True  # bytes may still be buffered: read() decides
        if flags & select.POLLIN:
            return True
        self._hung_up()
        time.sleep_ms(timeout_ms)  # type: ignore[attr-defined]
        return False

    def _hung_up(self):
        if not self._gone:
            self._gone = True
            self.hangups += 1

    def close(self):
        self._poll.unregister(self._f)
        self._f.close()
