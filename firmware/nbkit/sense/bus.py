# Meter bus link layer shared by every meter protocol (registry: nbkit.sense.protocols). Each
# protocol describes its frames as data (Layout: start byte, where L sits, what L counts, where
# the checksum starts, a stop byte), so the scanner, the checks and Bus serve them all:
#   CJ/T 188  68 T A0..A6 C L DATA CS 16           DL/T 645  68 A0..A5 68 C L DATA CS 16
#   M-Bus     68 L L 68 C A CI DATA CS 16, 10 C A CS 16, E5
# Pure (no hardware): imported by the firmware and by the host tools (`nbkit meter decode`,
# the meter-bus emulator), so there is one codec.
try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


START = const(0x68)
END = const(0x16)
WAKE = const(0xFE)

# scan() results
NEED = const(0)  # a frame may start at `start`; read more bytes
FRAME = const(1)  # a complete, checksummed frame at buf[start:start + n]
BAD = const(2)  # no frame can start in buf[:start + 1]: drop those bytes

MAX_BUF = const(300)  # receive buffer bound (largest frame: 255 data + 13 header/trailer)

# Typical meter-bus line settings (M-Bus or RS-485): 2400 baud, 8 data bits, even parity, 1
# stop bit; the board code opens its UART with these (machine.UART parity 0 = even).
BAUD = const(2400)
BITS = const(8)
PARITY_EVEN = const(0)
STOP = const(1)


class FrameError(ValueError):
    # A malformed frame: `reason` is one of the short strings below, `detail` says more.
    def __init__(self, reason, detail=""):
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason
        self.detail = detail


NO_START = "no start byte 0x68"
TRUNCATED = "truncated frame"
BAD_LENGTH = "bad length"
BAD_CHECKSUM = "bad checksum"
NO_END = "missing end byte 0x16"
BAD_HEADER = "bad header"


class Layout:
    # One frame form. start: first byte. len_at: offset of L (-1: a fixed `size`, no L byte);
    # body_at: offset where the bytes L counts begin (frame size = body_at + L + 2); len_copy:
    # offset of a repeated L, second_start: offset of a repeated start byte (-1: none);
    # cs_from: first byte summed into CS (CS and the stop byte end the frame); stop -1: a bare
    # single character without checksum (the M-Bus E5 acknowledgement).
    def __init__(  # noqa: PLR0917
        self,
        start,
        len_at=-1,
        body_at=0,
        second_start=-1,
        len_copy=-1,
        cs_from=0,
        size=0,
        stop=END,
    ):
        self.start = start
        self.len_at = len_at
        self.body_at = body_at
        self.second_start = second_start
        self.len_copy = len_copy
        self.cs_from = cs_from
        self.size = size
        self.stop = stop


def layout(len_at, second_start=-1):
    # The CJ/T 188 / DL/T 645 form: "68 ... L DATA CS 16", L counts DATA, CS from the 0x68.
    return Layout(START, len_at, len_at + 1, second_start)


class MeterTimeout(OSError):
    # No valid reply after every retry.
    pass


def checksum(buf, start, end):
    s = 0
    for i in range(start, end):
        s += buf[i]
    return s & 0xFF


def skip_wake(buf):
    # Index of the first 0x68 (FE wake-up bytes and line noise before it are skipped), or -1.
    for i in range(len(buf)):
        if buf[i] == START:
            return i
    return -1


def check(buf, start, form, complete=False):
    # Validates the frame at buf[start] laid out as `form` (a Layout): returns its total size or
    # raises FrameError. complete: buf holds one whole captured frame (a decoder's input, not a
    # serial stream), so a frame whose CS and stop byte sit elsewhere than L says has a bad L.
    n = len(buf) - start
    length = -1
    if form.len_at < 0:
        size = form.size
    else:
        if n < form.body_at:
            raise FrameError(TRUNCATED, "%d bytes, the header needs %d" % (n, form.body_at))
        for at, want in (
            (form.second_start, form.start),
            (form.len_copy, buf[start + form.len_at]),
        ):
            if at >= 0 and buf[start + at] != want:
                got = buf[start + at]
                raise FrameError(BAD_HEADER, "byte %d is 0x%02X, not 0x%02X" % (at, got, want))
        length = buf[start + form.len_at]
        size = form.body_at + length + 2
    if form.stop < 0:
        return size
    stop = form.stop
    if complete and n != size and _whole(buf, start, n, stop):
        given = ("L=%d gives " % length) if length >= 0 else "the form has "
        raise FrameError(BAD_LENGTH, "%s%d bytes, the frame has %d" % (given, size, n))
    if (
        complete
        and n == size - 1
        and checksum(buf, start + form.cs_from, start + n - 1) == buf[start + n - 1]
    ):
        raise FrameError(NO_END, "the frame ends after its checksum")
    if n < size:
        raise FrameError(TRUNCATED, "%d of %d bytes" % (n, size))
    cs = checksum(buf, start + form.cs_from, start + size - 2)
    if buf[start + size - 2] != cs:
        got = buf[start + size - 2]
        raise FrameError(BAD_CHECKSUM, "CS is 0x%02X, computed 0x%02X" % (got, cs))
    if buf[start + size - 1] != stop:
        got = buf[start + size - 1]
        raise FrameError(NO_END, "byte %d is 0x%02X, not 0x%02X" % (size - 1, got, stop))
    if complete and n > size:
        raise FrameError(BAD_LENGTH, "%d bytes after the 0x%02X" % (n - size, stop))
    return size


def _whole(buf, start, n, stop):
    # A captured frame that ends in its stop byte: a size mismatch is then its L byte's fault.
    return n >= 3 and buf[start + n - 1] == stop


def scan(buf, forms):
    # Stream scanner over the Layouts `forms` (a tuple, or one Layout): returns (kind, start,
    # size). A stray start byte in line noise can announce a long frame that never comes, so a
    # complete valid frame further on wins over waiting; but a bare character (no checksum) only
    # counts before any partial frame, never from inside one.
    if isinstance(forms, Layout):
        forms = (forms,)
    need = -1
    n = len(buf)
    for i in range(n):
        b = buf[i]
        for form in forms:
            if b != form.start or (form.stop < 0 and need >= 0):
                continue
            try:
                return FRAME, i, check(buf, i, form)
            except FrameError as e:
                if e.reason == TRUNCATED and need < 0:
                    need = i
    if need >= 0:
        return NEED, need, 0
    return BAD, n, 0


class Bus:
    # Request/reply over a Transport (write/read/wait/close) with timeout and retry.
    # A receive buffer bounded by MAX_BUF; garbage and broken frames are skipped (resync on the
    # next start byte). `protocol` supplies layouts (its frame descriptor), wake (FE bytes
    # before a request; None: this Bus's default) and decode(raw) -> frame; the caller's
    # accept(frame) picks the reply (not an echo, not another meter or DI).

    def __init__(self, transport, clock, timeout_ms=1500, retries=2, wake=4):
        self.transport = transport
        self.clock = clock
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.wake = wake
        self.buf = bytearray()
        self.stats = [0, 0, 0]  # requests, retries, bytes discarded

    def exchange(self, request, protocol, accept):
        # Sends request (FE wake-up bytes are prepended) and returns the first decoded reply
        # frame for which accept(frame) is true; raises MeterTimeout after every retry.
        self.stats[0] += 1
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats[1] += 1
            self.send(request, protocol)
            frame = self._receive(protocol, accept)
            if frame is not None:
                return frame
        raise MeterTimeout("no valid reply after %d attempts" % (self.retries + 1))

    def send(self, request, protocol):
        # A request that gets no reply (an M-Bus broadcast): stale bytes first, wake-up bytes.
        self._drain()
        wake = self.wake if protocol.wake is None else protocol.wake
        self.transport.write(b"\xfe" * wake + request)

    def _drain(self):
        # Stale bytes (a late reply to an earlier request) must not answer this one.
        self.buf = bytearray()
        for _ in range(8):
            if not self.transport.read(64):
                break

    def _receive(self, protocol, accept):
        deadline = self.clock.ticks_add(self.clock.ticks_ms(), self.timeout_ms)
        while True:
            frame = self._take(protocol, accept)
            if frame is not None:
                return frame
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0 or not self.transport.wait(left):
                return None
            chunk = self.transport.read(MAX_BUF)
            if chunk:
                self.buf.extend(chunk)
                self._bound()

    def _bound(self):
        over = len(self.buf) - MAX_BUF
        if over > 0:
            self.stats[2] += over
            self.buf = self.buf[over:]

    def _take(self, protocol, accept):
        while self.buf:
            kind, start, size = scan(self.buf, protocol.layouts)
            if kind == NEED:
                if start:
                    self.stats[2] += start
                    self.buf = self.buf[start:]
                return None
            if kind == BAD:
                self.stats[2] += start + 1
                self.buf = self.buf[start + 1 :]
                continue
            raw = bytes(self.buf[start : start + size])
            self.stats[2] += start
            self.buf = self.buf[start + size :]
            try:
                frame = protocol.decode(raw)
            except FrameError:
                self.stats[2] += size  # checksummed but not a layout we know: skip it
                continue
            if accept(frame):
                return frame
        return None
