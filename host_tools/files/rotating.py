"""Log files with a size cap: what a long-running host tool writes never fills the disk.

:class:`RotatingFile` is a text stream (``write``/``flush``/``close``): when the next write
would take the file past ``max_bytes`` it is renamed ``FILE.1`` (``FILE.1`` to ``FILE.2``, ...;
``backups`` old files are kept, the oldest dropped) and a fresh ``FILE`` begun, so at most
``(backups + 1) * max_bytes`` bytes are ever on disk. Whole lines are kept together. Used by the
collector's ``--log``, the emulator's ``--spy`` and ``--timeline``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any

from host_tools.errors import CommandError

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_BACKUPS = 3
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """``"4096"``, ``"64k"``, ``"16M"`` -> bytes; ValueError below 1 KiB or not a size."""
    raw = text.strip().lower().removesuffix("b").removesuffix("i")
    unit = raw[-1:] if raw[-1:] in ("k", "m", "g") else ""
    digits = raw[: len(raw) - len(unit)]
    if not digits.isdigit():
        raise ValueError(f"{text!r} is not a size (e.g. 4096, 64k, 16M)")
    size = int(digits) * _UNITS[unit]
    if size < 1024:
        raise ValueError(f"{text!r}: a log file cap below 1k would rotate on every line")
    return size


def size_arg(text: str) -> int:
    """argparse ``type=`` for a size option (a bad size is a usage error, exit 2)."""
    import argparse

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class RotatingFile:
    """An append-only text file rotated at ``max_bytes``; thread-safe writes."""

    def __init__(
        self,
        path: Path,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
        *,
        fresh: bool = False,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.lock = threading.Lock()
        self.rotations = 0
        self.stream = self._open("w" if fresh else "a")

    def _open(self, mode: str = "a") -> Any:
        try:
            stream = open(self.path, mode, encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise CommandError(
                f"cannot write the log {self.path}: {exc.strerror or exc} - check the folder "
                "exists and is writable"
            ) from exc
        self.size = stream.tell()
        return stream

    def write(self, text: str) -> int:
        with self.lock:
            data = text.encode("utf-8", "replace")
            if self.size and self.size + len(data) > self.max_bytes:
                self._rotate()
            self.stream.write(text)
            self.size += len(data)
            return len(text)

    def line(self, text: str) -> None:
        """One log line with a UTC time stamp, flushed."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.write(f"{stamp} {text}\n")
        self.flush()

    def _rotate(self) -> None:
        self.stream.close()
        for n in range(self.backups, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            newer = self.path.with_name(f"{self.path.name}.{n - 1}") if n > 1 else self.path
            with contextlib.suppress(FileNotFoundError):
                if n == self.backups:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(older)
                os.replace(newer, older)
        if self.backups == 0:
            os.unlink(self.path)
        self.rotations += 1
        self.stream = self._open()

    def flush(self) -> None:
        with self.lock:
            self.stream.flush()

    def close(self) -> None:
        with self.lock:
            self.stream.close()

    def __enter__(self) -> RotatingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_log(
    path: Path, max_bytes: int = DEFAULT_MAX_BYTES, *, fresh: bool = False
) -> RotatingFile:
    """A :class:`RotatingFile` for ``path``; CommandError when it cannot be written."""
    if path.is_dir():
        raise CommandError(f"{path} is a folder - give a log file name")
    return RotatingFile(path, max_bytes, fresh=fresh)
