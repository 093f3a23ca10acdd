"""The virtual board's memory-mapped ROM: the code "frozen" into the board, as a ROMFS image.

A board keeps its firmware in flash and runs it from there: frozen bytecode (firmware/manifest.py)
or a ROMFS partition (MicroPython 1.25+, `mpremote romfs`) is executed in place, so the heap holds
only what the code allocates. The unix port loads a .mpy from a file into its heap instead, code
and all, which made the virtual board's heap figures those of no real board. So the board host
builds the --app tree into a ROMFS image (mpremote's own writer, the format `vfs.VfsRom` reads)
and each MicroPython process it starts maps that image read-only into memory outside its heap:
the launcher (host_tools.vboard.mpy) maps the file named by NBKIT_ROM_IMAGE and passes its
address and size in NBKIT_ROM; the boot code (parts.BOOT_CODE) mounts `vfs.VfsRom` over that
memory at /.frozen before the first firmware import, and MicroPython then runs each .mpy in
place: bytecode and qstr strings stay in the ROM, only its tables and objects take heap.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from host_tools.errors import CommandError

#: ROMFS names are ASCII; these never belong in a board's ROM
_SKIP = ("__pycache__", ".check")


def _add_dir(rom: Any, src: Path) -> int:
    files = 0
    for entry in sorted(src.iterdir()):
        if entry.name in _SKIP or entry.name.startswith("."):
            continue
        if entry.is_dir():
            rom.opendir(entry.name)
            files += _add_dir(rom, entry)
            rom.closedir()
        elif entry.is_file():
            rom.mkfile(entry.name, entry.read_bytes())
            files += 1
    return files


def image_path(app: Path) -> Path:
    """Where the rigs keep the ROM image of the app tree ``app``: beside it, ``<app>.rom``."""
    return app.with_name(app.name + ".rom")


def build_image(app: Path, dest: Path) -> int:
    """Write the ROMFS image of the tree ``app`` to ``dest`` (atomically); return its size."""
    from mpremote.romfs import VfsRomWriter  # (a board host given its image never loads it)

    rom = VfsRomWriter()
    try:
        files = _add_dir(rom, app)
    except (OSError, UnicodeEncodeError) as e:
        raise CommandError(f"--app {app}: cannot build the board's ROM image: {e}") from e
    if files == 0:
        raise CommandError(f"--app {app}: no files to put in the board's ROM")
    image = rom.finalise()
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(image)
    os.replace(tmp, dest)
    return len(image)
