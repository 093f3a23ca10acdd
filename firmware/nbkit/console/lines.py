# Bounded line framing for the console UART.
# Accepts CR, LF or CRLF as the end of a line (a LF right after a CR is swallowed, even when it
# arrives in a later chunk), BS/DEL erase the last character, TAB counts as a space. A line with
# any other control byte or a non-ASCII byte is not dropped silently: it is delivered flagged as
# bad so the console can answer with an error. A line longer than the buffer is discarded up to
# its end and delivered as "overlong" (and counted); memory never grows with the input.
from micropython import const

_CR = const(13)
_LF = const(10)
_BS = const(8)
_DEL = const(127)
_TAB = const(9)
_SPACE = const(32)

# kinds of delivered lines
LINE = const(0)
BAD = const(1)
OVERLONG = const(2)


class LineReader:
    def __init__(self, max_len=200):
        self.max_len = max_len
        self._buf = bytearray(max_len)
        self._n = 0
        self._after_cr = False
        self._bad = -1  # first offending byte of the current line, -1 when clean
        self._overlong = False
        self.overlong_count = 0
        self.bad_count = 0

    def feed(self, data, emit):
        # Frame `data`; emit(kind, value) per finished line. For LINE, value is the str of the
        # line; for BAD, the first offending byte value; for OVERLONG, the bytes dropped.
        for b in data:
            if self._after_cr:
                self._after_cr = False
                if b == _LF:
                    continue
            if b in (_CR, _LF):
                self._after_cr = b == _CR
                self._finish(emit)
            elif b in (_BS, _DEL):
                if self._n and not self._overlong:
                    self._n -= 1
            else:
                self._add(b)

    def ends_line(self, b):
        # Would byte b end a line (a LF right after a CR does not)?
        return b == _CR or (b == _LF and not self._after_cr)

    def erasable(self):
        # Would a backspace now erase a character?
        return self._n > 0 and not self._overlong

    def full(self):
        return self._n >= self.max_len

    def first_word(self):
        # The first word of the line so far, lower case, once a space follows it; else None.
        buf, n, i = self._buf, self._n, 0
        while i < n and buf[i] == _SPACE:
            i += 1
        start = i
        while i < n and buf[i] != _SPACE:
            i += 1
        if i in (n, start):
            return None
        for j in range(start, i):
            if buf[j] < _SPACE or buf[j] > 126:
                return None  # a bad byte: the line gets an error, and bytes never decode here
        return bytes(buf[start:i]).decode().lower()

    def _add(self, b):
        if b == _TAB:
            b = _SPACE
        if (b < _SPACE or b > 126) and self._bad < 0:
            self._bad = b
        if self._n < self.max_len:
            self._buf[self._n] = b
            self._n += 1
        else:
            self._overlong = True

    def _finish(self, emit):
        n, bad, over = self._n, self._bad, self._overlong
        self._n = 0
        self._bad = -1
        self._overlong = False
        if over:
            self.overlong_count += 1
            emit(OVERLONG, self.max_len)
        elif bad >= 0:
            self.bad_count += 1
            emit(BAD, bad)
        else:
            emit(LINE, bytes(self._buf[:n]).decode())
