"""Private files on the host: keys, device configs and flash images holding keys.

:func:`write_private` is the one way the host tools write such a file: the bytes go to
``<name>.tmp`` beside the target, created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600
(whatever the umask), flushed to disk, then renamed over the target (atomic on POSIX). A symlink
or any other file already at the ``.tmp`` path is never followed or written through: it is
removed (``unlink`` removes the link, not what it points at) and the exclusive create tried once
more; if something appears there again, the write is refused.

Failures are :class:`CommandError` naming the path and what to do, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from host_tools.errors import CommandError

PRIVATE_MODE = 0o600
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def tmp_path(path: Path) -> Path:
    """Where :func:`write_private` stages ``path``: beside it, so the rename stays atomic."""
    return path.with_name(path.name + ".tmp")


def _open_exclusive(tmp: Path) -> int:
    try:
        return os.open(tmp, _FLAGS, PRIVATE_MODE)
    except FileExistsError:
        os.unlink(tmp)  # a stale .tmp of a cut write, or a planted symlink: never followed
        return os.open(tmp, _FLAGS, PRIVATE_MODE)


def write_private(path: str | Path, data: bytes | str, mode: int = PRIVATE_MODE) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only (``mode``, 0600)."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if path.is_dir():
        raise CommandError(f"{path} is a folder: give a file name")
    tmp = tmp_path(path)
    try:
        fd = _open_exclusive(tmp)
    except OSError as exc:
        raise CommandError(
            f"cannot write {path}: {exc.strerror or exc} - check that the folder "
            f"{path.parent} exists and is writable"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # the umask may have narrowed it; never widened
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc
    with contextlib.suppress(OSError):  # make the rename durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def is_private(path: str | Path) -> bool:
    """True when neither the group nor others may read or write ``path``."""
    return not stat.S_IMODE(os.stat(path).st_mode) & 0o077


def warn_if_shared(path: str | Path, what: str) -> str | None:
    """A warning line when a secret-holding file is readable by others, else None."""
    try:
        if is_private(path):
            return None
    except OSError:
        return None
    return f"nbkit: warning: {path} holds {what} and is readable by others - chmod 600 {path}"
