# Transport over a tty on the MicroPython unix port (virtual board, e2e tests) (MIT licence).
#
#   TtyTransport("/dev/pts/5", baud=9600)   a device path: opened, raw 8N1, VMIN=0/VTIME=0 so
#                                           read() returns at once with what is there
#   TtyTransport(fd)                        an open descriptor handed down by a parent (a pty
#                                           master): its settings are left alone; read() takes
#                                           a byte per call while poll says more is there (a
#                                           blocking read of n would wait for all n, and
#                                           MicroPython's os cannot set O_NONBLOCK)
#   tty.serve_also(sock, handler)           while wait() sleeps, handler() runs whenever sock is
#                                           readable (the virtual board's pin events, as IRQs
#                                           are served during a UART wait on a board)
# baud: the Linux speed codes, also those MicroPython's termios does not name (4800, 19200,
# 38400); another speed is a ValueError. wait() is select.poll, never a busy loop. A hung-up
# peer (pty master closed) makes poll return at once (POLLIN|POLLERR|POLLHUP, read() gives b""):
# once nothing is left to read, wait() sleeps out its timeout instead of spinning (hangups).
import select
import termios
import time

try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


_VTIME = const(5)  # index in the termios cc list (Linux)
_VMIN = const(6)
# cfmakeraw's flags (Linux): IGNBRK BRKINT PARMRK ISTRIP INLCR IGNCR ICRNL IXON; OPOST;
# ECHO ECHONL ICANON ISIG IEXTEN; CSIZE PARENB, then CS8
_RAW_IFLAG = const(0x1 | 0x2 | 0x8 | 0x20 | 0x40 | 0x80 | 0x100 | 0x400)
_OPOST = const(0x1)
_RAW_LFLAG = const(0x8 | 0x40 | 0x2 | 0x1 | 0x8000)
_CSIZE = const(0x30)
_PARENB = const(0x100)
_CS8 = const(0x30)
_RX_CAP = const(4096)  # receive buffer under the time master (bytes)
# Linux termios speed codes (termios.B<n> where MicroPython names it)
_BAUDS = {4800: 12, 9600: 13, 19200: 14, 38400: 15, 57600: 4097, 115200: 4098}


def speed_code(baud):
    code = getattr(termios, "B%d" % baud, None) or _BAUDS.get(baud)
    if code is None:
        raise ValueError("baud %d: not one of %s" % (baud, sorted(_BAUDS)))
    return code


class TtyTransport:
    # sim: a SimClock (nbkit.hal.simclock) when the board runs under a time master: wait()
    # blocks in virtual time and read()/write() count their bytes under rx_key/tx_key.
    sim = None
    rx_key = tx_key = ""
    _rx = b""  # under the time master: what arrived while the firmware waited elsewhere

    def __init__(self, target, baud=None, keep=False):
        # keep: what the line already holds stays to be read (under the time master those
        # bytes are counted as sent); otherwise opening drops it, as setraw's TCSAFLUSH does
        self.path = target
        self.hangups = 0
        self._hup = False  # poll reported POLLHUP/POLLERR
        self._gone = False  # ...and nothing was left to read: the other end has closed
        self._side = None  # (pollable, handler) served during wait()
        self._one = None  # a bytearray(1) when reading a byte at a time (descriptor given)
        self._f = open(target, "r+b", buffering=0)  # closed by close()
        if isinstance(target, int):
            self._one = bytearray(1)
        else:
            self._configure(baud, keep)
        self._poll = select.poll()
        self._poll.register(self._f, select.POLLIN)

    def _configure(self, baud, keep):
        fd = self._f.fileno()
        if not keep:
            termios.setraw(fd)  # raw; what the line held before is dropped (TCSAFLUSH)
        attrs = termios.tcgetattr(fd)
        if keep:  # raw as cfmakeraw, set below with TCSANOW: nothing is flushed
            attrs[0] &= ~_RAW_IFLAG
            attrs[1] &= ~_OPOST
            attrs[2] = (attrs[2] & ~(_CSIZE | _PARENB)) | _CS8
            attrs[3] &= ~_RAW_LFLAG
        attrs[6][_VMIN] = 0
        attrs[6][_VTIME] = 0
        if baud:
            attrs[4] = attrs[5] = speed_code(baud)
        termios.tcsetattr(fd, termios.TCSANOW, attrs)

    def serve_also(self, obj, handler):
        self._side = (obj, handler)
        self._poll.register(obj, select.POLLIN)

    def write(self, data):
        n = self._f.write(data) or 0
        if self.sim is not None:
            self.sim.count(self.tx_key, n)
        return n

    def absorb(self):
        # Under the time master, while the firmware waits for something else: take what the
        # tty holds into the receive buffer, as a UART's FIFO and driver ring do (bounded:
        # beyond _RX_CAP the oldest bytes are lost, a UART overrun).
        data = self._read_tty(_RX_CAP)
        if data:
            self._rx = (self._rx + data)[-_RX_CAP:]

    def read(self, n):
        if self._rx:
            out, self._rx = self._rx[:n], self._rx[n:]
            return out
        return self._read_tty(n)

    def _read_tty(self, n):
        try:
            data = self._f.read(n) if self._one is None else self._read_bytes(n)
        except OSError:
            data = None  # EIO once the other end has gone
        if not data and self._hup:
            self._hung_up()  # poll said hang-up and nothing is left: silence from now on
        if data and self.sim is not None:
            self.sim.count(self.rx_key, len(data))
        return data or b""

    def _read_bytes(self, n):
        one = self._one
        out = b""
        while one is not None and len(out) < n and self._readable_now():
            if not self._f.readinto(one):
                break
            out += one
        return out

    def _readable_now(self):
        for obj, flags in self._poll.poll(0):
            if obj is self._f:
                if flags & (select.POLLHUP | select.POLLERR):
                    self._hup = True
                return bool(flags & select.POLLIN)
        return False

    def wait(self, timeout_ms):
        # True as soon as the tty is readable; False when timeout_ms passed.
        timeout_ms = max(0, int(timeout_ms))
        if self.sim is not None:
            return self._sim_wait(timeout_ms)
        start = time.ticks_ms()  # type: ignore[attr-defined]
        left = timeout_ms
        while True:
            if self._gone and self._side is None:
                time.sleep_ms(left)  # type: ignore[attr-defined]
                return False
            events = self._poll.poll(left)
            if not events:
                return False
            if self._tty_event(events):
                return True
            left = timeout_ms - time.ticks_diff(time.ticks_ms(), start)  # type: ignore[attr-defined]
            if left <= 0:
                return False

    def _sim_wait(self, timeout_ms):
        # wait() in virtual time: the time master moves the clock while nothing is readable.
        if self._rx:
            return True
        sim = self.sim
        deadline = sim.ticks_ms() + timeout_ms  # type: ignore[attr-defined]
        while True:
            events = sim.block(self._poll, deadline, self)  # type: ignore[attr-defined]
            if not events:
                return False
            if self._tty_event(events):
                return True

    def _tty_event(self, events):
        # Serve the side channel; True when the tty has bytes to read.
        for obj, flags in events:
            if self._side is not None and obj is self._side[0]:
                self._side[1]()
                continue
            if flags & (select.POLLHUP | select.POLLERR):
                self._hup = True  # bytes may still be buffered: read() decides
            if flags & select.POLLIN:
                return True
            self._hung_up()
        return False

    def _hung_up(self):
        if not self._gone:
            self._gone = True
            self.hangups += 1
            self._poll.unregister(self._f)  # poll would report the hang-up at once, forever

    def fileobj(self):
        return self._f

    def close(self):
        if not self._gone:
            self._poll.unregister(self._f)
        self._f.close()
