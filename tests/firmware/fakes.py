# Test doubles for the AT engine: a scripted modem behind the Transport contract (MIT licence).
#
# ScriptedModem expects exact command bytes in order and answers each with scripted bytes, which
# may be split across reads (split=N gives at most N bytes per read) and may come later in
# virtual time (Later(ms, bytes)): wait() moves the ManualClock to the next scheduled byte, or by
# the whole timeout when nothing is scheduled, so timeouts cost no real time. Bytes written that
# differ from the next expectation fail at once; verify() fails when an expectation is unused.


class Later:
    # Bytes the modem sends ms after the command that triggered them was written.

    def __init__(self, ms, data):
        self.ms = ms
        self.data = data


class ScriptedModem:
    def __init__(self, clock, split=0):
        self.clock = clock
        self.split = split  # max bytes per read(); 0 = as much as asked
        self._steps = []  # [(expected bytes, replies)]
        self._out = []  # [(due_ms, bytes)] in due order
        self._written = b""
        self.writes = []  # every complete command matched, in order
        self.closed = False

    # -- scripting ------------------------------------------------------------------------

    def expect(self, command, *replies):
        # command: bytes written by the engine (b"AT+CSQ\r"); replies: bytes or Later.
        self._steps.append((command, replies))
        return self

    def send(self, data, after_ms=0):
        # Unsolicited bytes (URCs, boot banner) after_ms from now.
        self._schedule(after_ms, data)
        return self

    def verify(self):
        assert not self._steps, "expected but never written: %r" % (self._steps[0][0],)
        assert not self._written, "written but never matched: %r" % (self._written,)

    def pending_output(self):
        return sum(len(d) for _, d in self._out)

    # -- Transport ------------------------------------------------------------------------

    def write(self, data):
        self._written += bytes(data)
        while self._written:
            assert self._steps, "unexpected write: %r" % (self._written,)
            want, replies = self._steps[0]
            if len(self._written) < len(want):
                assert want.startswith(self._written), (self._written, want)
                break
            assert self._written.startswith(want), (self._written, want)
            self._written = self._written[len(want) :]
            self._steps.pop(0)
            self.writes.append(want)
            for reply in replies:
                if isinstance(reply, Later):
                    self._schedule(reply.ms, reply.data)
                else:
                    self._schedule(0, reply)
        return len(data)

    def read(self, n):
        now = self.clock.ticks_ms()
        out = b""
        limit = min(n, self.split) if self.split else n
        while self._out and self._out[0][0] <= now and len(out) < limit:
            due, data = self._out[0]
            take = limit - len(out)
            out += data[:take]
            if take >= len(data):
                self._out.pop(0)
            else:
                self._out[0] = (due, data[take:])
        return out

    def wait(self, timeout_ms):
        now = self.clock.ticks_ms()
        if self._out and self._out[0][0] <= now + timeout_ms:
            if self._out[0][0] > now:
                self.clock.advance(self._out[0][0] - now)
            return True
        self.clock.advance(timeout_ms)
        return False

    def close(self):
        self.closed = True

    def _schedule(self, after_ms, data):
        due = self.clock.ticks_ms() + after_ms
        k = len(self._out)
        while k > 0 and self._out[k - 1][0] > due:
            k -= 1
        self._out.insert(k, (due, data))


class StreamModem:
    # A modem that answers every write with the next canned byte string (fuzzing, benches):
    # no expectations on what is written; bytes_written counts them. Like a UART receive ring
    # buffer, at most rx_max bytes wait unread; more are lost (counted in overrun).

    def __init__(self, clock, answers, split=0, rx_max=4096):
        self.clock = clock
        self._answers = list(answers)
        self._out = bytearray()
        self._pos = 0  # bytes of _out already read
        self.split = split
        self.rx_max = rx_max
        self.overrun = 0
        self.bytes_written = 0

    def push(self, data):
        self._compact()
        room = max(0, self.rx_max - (len(self._out) - self._pos))
        self.overrun += max(0, len(data) - room)
        self._out += data[:room]

    def pending(self):
        return len(self._out) - self._pos

    def clear(self):
        self._out = bytearray()
        self._pos = 0

    def write(self, data):
        data = bytes(data)
        self.bytes_written += len(data)
        if data.endswith(b"\r") and self._answers:
            self.push(self._answers.pop(0))
        return len(data)

    def read(self, n):
        limit = min(n, self.split) if self.split else n
        out = bytes(self._out[self._pos : self._pos + limit])
        self._pos += len(out)
        return out

    def wait(self, timeout_ms):
        if self.pending():
            return True
        self.clock.advance(timeout_ms)
        return False

    def close(self):
        pass

    def _compact(self):
        # Drop what was read, in place (no new buffer, so the heap does not fragment).
        if self._pos:
            self._out[: self._pos] = b""
            self._pos = 0


def modem(split=0, **engine_options):
    # (engine, modem, clock) wired together with a ManualClock.
    from nbkit.at.engine import Engine
    from nbkit.hal.clock import ManualClock

    clock = ManualClock()
    fake = ScriptedModem(clock, split)
    return Engine(fake, clock, **engine_options), fake, clock
