"""littlefs2 flash images on the host (littlefs-python), readable by MicroPython's VfsLfs2.

The geometry matches ``firmware/nbkit/hal/flash.py`` (read/prog size 32, lookahead 32), so an
image made here mounts in the virtual board and what the firmware writes reads back here.
The virtual board seeds a device's config into its image with :func:`create_image`.
"""

from __future__ import annotations

import os
from pathlib import Path

from littlefs import LittleFS, UserContext

READ_SIZE = 32
PROG_SIZE = 32
LOOKAHEAD = 32


def _fs(buffer: bytearray, block_size: int, mount: bool) -> LittleFS:
    if len(buffer) % block_size or not buffer:
        raise ValueError(f"image of {len(buffer)} bytes is not whole {block_size}-byte blocks")
    return LittleFS(
        context=UserContext(buffer=buffer),
        mount=mount,
        block_size=block_size,
        block_count=len(buffer) // block_size,
        read_size=READ_SIZE,
        prog_size=PROG_SIZE,
        lookahead_size=LOOKAHEAD,
        block_cycles=100,
    )


def create_image(
    path: str | Path,
    block_size: int = 512,
    block_count: int = 64,
    files: dict[str, bytes] | None = None,
) -> None:
    """Write a freshly formatted image holding ``files`` (name -> bytes; "a/b" makes "a")."""
    buffer = bytearray(b"\xff" * (block_size * block_count))
    fs = _fs(buffer, block_size, mount=False)
    fs.format()
    fs.mount()
    for name, data in (files or {}).items():
        parent = os.path.dirname(name)
        if parent:
            fs.makedirs(parent, exist_ok=True)
        with fs.open(name, "wb") as f:
            f.write(data)
    fs.unmount()
    Path(path).write_bytes(bytes(buffer))


def read_file(path: str | Path, name: str, block_size: int = 512) -> bytes:
    """Contents of one file of an image; FileNotFoundError when it is not there."""
    fs = _fs(bytearray(Path(path).read_bytes()), block_size, mount=True)
    try:
        with fs.open(name, "rb") as f:
            return bytes(f.read())
    except Exception as exc:  # littlefs raises its own error type for a missing file
        raise FileNotFoundError(f"{path}: no file '{name}' ({exc})") from exc


def list_files(path: str | Path, block_size: int = 512) -> list[str]:
    """Every file of an image, as paths relative to its root, sorted."""
    fs = _fs(bytearray(Path(path).read_bytes()), block_size, mount=True)
    out = []
    for root, _dirs, names in fs.walk("/"):
        for name in names:
            out.append(f"{root.rstrip('/')}/{name}".lstrip("/"))
    return sorted(out)
