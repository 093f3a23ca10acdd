# The device's event log on flash: a ring of at most `lines` lines in two append-only segment
# files, <path>.0 and <path>.1. Appends go to the current segment; when it holds lines // 2
# lines the other segment is truncated and becomes current, so the log keeps between lines // 2
# and lines of the newest lines, and an append writes one short line (no rewrite of the log).
# A power cut can tear the last line of a segment: the next append closes it with DEL "\n"
# (_TORN) and readers skip such lines (and a last line without its "\n").
import os

from micropython import const

_LINE_MAX = const(96)  # longer lines are cut (one log line is one console data line)
_SEGMENT_BYTES = const(4096)  # read no more of a segment than this (bounded memory)
_TORN = const("\x7f")  # ends a line cut by a power loss (never in a logged line: see _one_line)


class EventLog:
    def __init__(self, path="events.log", lines=64, clock=None):
        self.path = path
        self.half = max(1, lines // 2)
        self.clock = clock
        self._cur = 0  # index of the current segment (0 or 1)
        self._found = False  # the segments were looked at (first use)
        self._count = 0  # lines in the current segment
        self._next = 0  # number of the next line
        self._torn = False  # the current segment ends in a cut line

    def _seg(self, i):
        return "%s.%d" % (self.path, i)

    def _read(self, i):
        # -> complete lines of segment i (torn ones dropped)
        try:
            size = os.stat(self._seg(i))[6]
            with open(self._seg(i)) as f:
                text = f.read(min(size, _SEGMENT_BYTES))  # read(n) allocates n: ask for no more
        except OSError:
            text = ""
        return [line for line in text.split("\n")[:-1] if line and line[-1] != _TORN]

    def _scan(self, i):
        # -> (first line's counter or -1, complete lines, ends torn?) of segment i, read one
        # line at a time: the first append of a window runs on a heap the app has filled.
        seq, count, torn, used = -1, 0, False, 0
        try:
            with open(self._seg(i)) as f:
                while used < _SEGMENT_BYTES:
                    line = f.readline()
                    if not line:
                        break
                    used += len(line)
                    torn = not line.endswith("\n")
                    if torn or len(line) < 2 or line[-2] == _TORN:
                        continue
                    if not count:
                        seq = _seq(line)
                    count += 1
        except OSError:
            pass
        return seq, count, torn

    def _find(self):
        # The current segment is the one with the newest stamp (its first line's counter).
        heads = []
        for i in (0, 1):
            seq, count, torn = self._scan(i)
            heads.append((seq, i, count, torn))
        seq, self._cur, self._count, self._torn = max(heads)
        self._found = True
        self._next = max(0, seq) + self._count

    def append(self, text):
        if not self._found:
            self._find()
        if self._count >= self.half:
            self._cur = 1 - self._cur
            self._count = 0
            self._torn = False
            open(self._seg(self._cur), "w").close()
        stamp = "" if self.clock is None else " t=%d" % self.clock.time()
        line = "%d%s %s" % (self._next, stamp, _one_line(text))
        with open(self._seg(self._cur), "a") as f:
            if self._torn:
                f.write(_TORN + "\n")
                self._torn = False
            f.write(line[:_LINE_MAX] + "\n")
        self._count += 1
        self._next += 1

    def tail(self, n):
        # -> the newest n lines, oldest first
        if not self._found:
            self._find()
        lines = self._read(1 - self._cur) + self._read(self._cur)
        return lines[-n:] if n > 0 else []


def _seq(line):
    word = line.split(" ", 1)[0]
    return int(word) if word.isdigit() else -1


def _one_line(text):
    return "".join(c if " " <= c <= "~" else "?" for c in str(text))
