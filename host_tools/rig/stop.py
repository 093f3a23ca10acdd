"""Ctrl-C and SIGTERM for the rig's commands (`nbkit demo`): both stop every process and exit 130.

The handler raises KeyboardInterrupt in the main thread and also records the request: an
interrupt raised while Python runs a finaliser or a callback is printed and dropped there
("Exception ignored in ..."), and the run would go on to its end and exit 0. The command checks
:func:`requested` after its run, so a stop asked for is never lost.
"""

from __future__ import annotations

import signal
from types import FrameType

_asked: list[int] = []


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _asked.append(signum)
    raise KeyboardInterrupt


def install() -> None:
    """Route SIGINT and SIGTERM to :func:`_on_signal` (main thread only)."""
    _asked.clear()
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def requested() -> bool:
    """Whether a stop was asked for since :func:`install`."""
    return bool(_asked)
