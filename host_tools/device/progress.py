"""Progress of a long operation on stderr: a bar redrawn in place on a terminal, plain lines
otherwise (a log or a CI job gets no ``\\r``, one line per 10 % step)."""

from __future__ import annotations

import sys
from typing import TextIO

_WIDTH = 30
_STEP = 10  # percent between two lines when stderr is not a terminal


class Progress:
    """``advance(n, label)`` as work is done; ``close()`` at the end."""

    def __init__(
        self,
        total: int,
        enabled: bool = True,
        stream: TextIO | None = None,
        tty: bool | None = None,
    ) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.last_line = -1
        self.drawn = False

    def set(self, done: int, label: str) -> None:
        """Set the amount done (redraw on a terminal; a line per step otherwise)."""
        self.done = min(done, self.total)
        if not self.enabled:
            return
        pct = self.done * 100 // self.total
        if self.tty:
            filled = _WIDTH * self.done // self.total
            bar = "#" * filled + "." * (_WIDTH - filled)
            self.stream.write(f"\r  [{bar}] {pct:3d}% {label[-40:]:<40}")
            self.drawn = True
        elif pct // _STEP != self.last_line // _STEP or pct == 100 and self.last_line != 100:
            self.stream.write(f"  {pct:3d}% {label}\n")
            self.last_line = pct
        self.stream.flush()

    def advance(self, amount: int, label: str) -> None:
        """Add amount to what is done."""
        self.set(self.done + amount, label)

    def close(self) -> None:
        """End the bar's line (terminal only)."""
        if self.enabled and self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
