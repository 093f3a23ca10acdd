"""AT input as the Huawei-firmware modules read it: lines, concatenation, arguments.

Input rules (BC95 manual §1.2-1.3): a line ends with CR, LF is ignored (so CRLF works), spaces
are ignored outside quoted strings, command names and unquoted arguments are case-insensitive,
arguments may be quoted or not, and ``AT+A=1;+B=2`` runs two commands (each answers on its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: longest command line accepted (an NSOST of 1358 bytes is ~2.8 kB of hex)
MAX_LINE = 4096


class LineAssembler:
    """Bounded CR-terminated line splitter; an overlong line is reported, never buffered."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self._buf = bytearray()
        self._overflowed = False
        self.overlong_lines = 0

    def feed(self, data: bytes) -> list[bytes | None]:
        """Return complete lines (without CR); ``None`` stands for a line that was too long."""
        out: list[bytes | None] = []
        rest = data.replace(b"\n", b"")
        while rest:
            end = rest.find(b"\r")
            chunk = rest if end < 0 else rest[:end]
            if not self._overflowed:
                if len(self._buf) + len(chunk) > self.limit:
                    self._overflowed = True
                    self._buf.clear()
                else:
                    self._buf += chunk
            if end < 0:
                break
            if self._overflowed:
                self.overlong_lines += 1
                out.append(None)
            else:
                out.append(bytes(self._buf))
            self._buf.clear()
            self._overflowed = False
            rest = rest[end + 1 :]
        return out

    def reset(self) -> None:
        """Forget any partial line (used when the modem reboots)."""
        self._buf.clear()
        self._overflowed = False


@dataclass
class Command:
    """One command of a (possibly concatenated) line.

    ``text`` is the normalised form (``AT`` + body, upper case, no spaces outside quotes) that
    scenario faults match against; ``name`` is ``+CFUN``, ``E1``, or ``""`` for a bare ``AT``.
    """

    text: str
    name: str
    kind: str  # "exec" | "read" | "test" | "set"
    args: list[str] = field(default_factory=list)


class ParseError(ValueError):
    """The line is not a well-formed AT command (the modem answers ERROR)."""


def normalise(text: str) -> str:
    """Drop spaces and upper-case everything outside double quotes."""
    parts = text.split('"')
    for i in range(0, len(parts), 2):  # even parts are outside quotes
        parts[i] = parts[i].replace(" ", "").replace("\t", "").upper()
    return '"'.join(parts)


def split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split on ``sep`` except inside double quotes (the quotes are kept)."""
    if '"' not in text:
        return text.split(sep)
    out = [""]
    for i, part in enumerate(text.split('"')):
        if i:
            out[-1] += '"'
        if i % 2:
            out[-1] += part
        else:
            first, *more = part.split(sep)
            out[-1] += first
            out.extend(more)
    return out


def parse_line(raw: bytes) -> list[Command]:
    """Parse one input line into commands; raise :class:`ParseError` when it is not AT."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise ParseError("non-ASCII input") from None
    text = normalise(text)
    if text.count('"') % 2:
        raise ParseError("unbalanced quotes")
    if not text.startswith("AT"):
        raise ParseError("line does not start with AT")
    segments = split_outside_quotes(text[2:], ";")
    commands = []
    for i, segment in enumerate(segments):
        seg = segment[2:] if i and segment.startswith("AT") else segment
        if i and not seg:
            continue
        commands.append(_parse_segment(seg))
    return commands


def _parse_segment(seg: str) -> Command:
    text = "AT" + seg
    if not seg:
        return Command(text, "", "exec")
    if seg[0] in "+^%":
        end = 1
        while end < len(seg) and (seg[end].isalnum() or seg[end] == "_"):
            end += 1
        name, rest = seg[:end], seg[end:]
    else:  # basic command: a letter (or &letter) and an optional number
        end = 2 if seg[0] == "&" else 1
        while end < len(seg) and seg[end].isdigit():
            end += 1
        name, rest = seg[:end], seg[end:]
        if rest:
            raise ParseError(f"unexpected {rest!r} after {name}")
        return Command(text, name, "exec")
    if rest == "":
        return Command(text, name, "exec")
    if rest == "?":
        return Command(text, name, "read")
    if rest == "=?":
        return Command(text, name, "test")
    if rest.startswith("="):
        args = [
            a[1:-1] if len(a) >= 2 and a[0] == a[-1] == '"' else a
            for a in split_outside_quotes(rest[1:], ",")
        ]
        return Command(text, name, "set", args)
    raise ParseError(f"unexpected {rest!r} after {name}")
