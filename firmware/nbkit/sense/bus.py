# Meter bus link layer shared by CJ/T 188 and DL/T 645: both frames are
# "[FE..] 68 ... L DATA CS 16" with CS = sum mod 256 from the first 0x68 to the last data byte.
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


def check(buf, start, len_at, second_start=-1, complete=False):
    # Validates the frame at buf[start]: returns its total size or raises FrameError.
    # len_at: offset of the L byte from the 0x68; second_start: offset of a second 0x68 or -1.
    # complete: buf holds one whole captured frame (a decoder's input, not a serial stream), so
    # a frame whose CS and 0x16 sit somewhere other than where L points has a bad length.
    n = len(buf) - start
    if n < len_at + 1:
        raise FrameError(TRUNCATED, "%d bytes, the header needs %d" % (n, len_at + 1))
    if second_start >= 0 and buf[start + second_start] != START:
        got = buf[start + second_start]
        raise FrameError(BAD_HEADER, "byte %d is 0x%02X, not 0x68" % (second_start, got))
    length = buf[start + len_at]
    size = len_at + 1 + length + 2
    if complete and n != size and _whole(buf, start, n):
        raise FrameError(BAD_LENGTH, "L=%d gives %d bytes, the frame has %d" % (length, size, n))
    if complete and n == size - 1 and checksum(buf, start, start + n - 1) == buf[start + n - 1]:
        raise FrameError(NO_END, "the frame ends after its checksum")
    if n < size:
        raise FrameError(TRUNCATED, "%d of %d bytes" % (n, size))
    cs = checksum(buf, start, start + size - 2)
    if buf[start + size - 2] != cs:
        got = buf[start + size - 2]
        raise FrameError(BAD_CHECKSUM, "CS is 0x%02X, computed 0x%02X" % (got, cs))
    if buf[start + size - 1] != END:
        got = buf[start + size - 1]
        raise FrameError(NO_END, "byte %d is 0x%02X" % (size - 1, got))
    if complete and n > size:
        raise FrameError(BAD_LENGTH, "%d bytes after the 0x16" % (n - size))
    return size


def _whole(buf, start, n):
    # A captured frame that ends in 0x16: a size mismatch is then its L byte's fault.
    return n >= 3 and buf[start + n - 1] == END


def scan(buf, len_at, second_start=-1):
    # Stream scanner: returns (kind, start, size). A stray 0x68 in line noise can announce a
    # long frame that never comes, so a complete valid frame further on wins over waiting.
    need = -1
    i = 0
    n = len(buf)
    while i < n:
        if buf[i] != START:
            i += 1
            continue
        try:
            return FRAME, i, check(buf, i, len_at, second_start)
        except FrameError as e:
            if e.reason == TRUNCATED and need < 0:
                need = i
        i += 1
    if need >= 0:
        return NEED, need, 0
    return BAD, n, 0


class Bus:
    # Request/reply over a Transport (write/read/wait/close) with timeout and retry.
    # A receive buffer bounded by MAX_BUF; garbage and broken frames are skipped (resync on the
    # next 0x68). `protocol` supplies len_at, second_start and decode(raw) -> frame; the
    # caller's accept(frame) picks the reply (not an echo, not another meter or DI).

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
            self._drain()
            self.transport.write(b"\xfe" * self.wake + request)
            frame = self._receive(protocol, accept)
            if frame is not None:
                return frame
        raise MeterTimeout("no valid reply after %d attempts" % (self.retries + 1))

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
            kind, start, size = scan(self.buf, protocol.len_at, protocol.second_start)
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
