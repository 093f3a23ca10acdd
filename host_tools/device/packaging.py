"""MicroPython packaging of the firmware: `firmware/manifest.py` (freeze nbkit into a board
build) and the `package.json` files `mpremote mip install` reads, checked against the file list.

What lands where is the same as `nbkit deploy` (the device's working directory, `/` on a board):

* ``firmware/package.json``: ``main.py`` and every ``nbkit/**.py`` module, as source
  (``mpremote mip install --target / firmware/package.json``, or the ``github:`` URL of it);
* ``boards/<board>.mip.json``: the board's data file as ``board.json``.

`nbkit build` refuses to build when any of them disagrees with ``firmware/`` (a module added
without updating them); ``nbkit build --update-packages`` rewrites them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from host_tools import BOARDS_DIR, FIRMWARE_DIR, __version__
from host_tools.errors import CommandError

MANIFEST = "manifest.py"
PACKAGE = "package.json"
BOARD_PACKAGE_SUFFIX = ".mip.json"
#: entry points that stay files on the board's filesystem (the board runs them by name)
ON_FILESYSTEM = ("main.py", "boot.py")


def firmware_files(firmware: Path = FIRMWARE_DIR) -> list[str]:
    """Every firmware .py file (posix paths relative to firmware/), sorted."""
    return sorted(
        p.relative_to(firmware).as_posix()
        for p in firmware.rglob("*.py")
        if "__pycache__" not in p.parts and p.name != MANIFEST
    )


def app_package(firmware: Path = FIRMWARE_DIR) -> dict[str, Any]:
    """The mip package of the app: every firmware file at the path `nbkit deploy` uses."""
    return {
        "urls": [[rel, rel] for rel in firmware_files(firmware)],
        "version": __version__,
    }


def board_package(name: str) -> dict[str, Any]:
    """The mip package of one board's data: boards/<name>.json installed as board.json."""
    return {"urls": [["board.json", f"{name}.json"]], "version": __version__}


def board_names(boards_dir: Path = BOARDS_DIR) -> list[str]:
    """Board names (boards/<name>.json, the .mip.json packages left out)."""
    return sorted(
        p.name[: -len(".json")]
        for p in boards_dir.glob("*.json")
        if not p.name.endswith(BOARD_PACKAGE_SUFFIX)
    )


def manifest_files(path: Path) -> list[str]:
    """The files MicroPython's manifest tooling freezes for ``path``, by running the manifest
    with the calls it uses (``metadata``, ``include`` of the port's manifest, ``package``,
    ``module``); paths relative to the manifest's folder."""
    base = path.parent
    frozen: list[str] = []

    def package(name: str, files: Any = None, base_path: str = ".", opt: Any = None) -> None:
        root = (base / base_path).resolve()
        found = sorted(
            p.relative_to(root).as_posix()
            for p in (root / name).rglob("*.py")
            if "__pycache__" not in p.parts
        )
        frozen.extend(found if files is None else [f"{name}/{f}" for f in files])

    def module(name: str, base_path: str = ".", opt: Any = None) -> None:
        frozen.append(name)

    def include(manifest: str, **_kw: Any) -> None:
        if not manifest.startswith("$("):
            raise CommandError(f"{path}: include({manifest!r}): only the port's manifest")

    def metadata(**_kw: Any) -> None:
        pass

    def require(name: str, **_kw: Any) -> None:
        raise CommandError(f"{path}: require({name!r}): nbkit needs no micropython-lib package")

    calls = {"package": package, "module": module, "include": include, "metadata": metadata}
    exec(compile(path.read_text(), str(path), "exec"), {**calls, "require": require})
    return sorted(frozen)


def problems(firmware: Path = FIRMWARE_DIR, boards_dir: Path = BOARDS_DIR) -> list[str]:
    """What disagrees between firmware/, the manifest and the mip packages (empty: all agree)."""
    out = []
    modules = [f for f in firmware_files(firmware) if f not in ON_FILESYSTEM]
    frozen = manifest_files(firmware / MANIFEST)
    for missing in sorted(set(modules) - set(frozen)):
        out.append(f"firmware/{MANIFEST} does not freeze {missing}")
    for extra in sorted(set(frozen) - set(modules)):
        out.append(f"firmware/{MANIFEST} freezes {extra}, which is no firmware module")
    if _read(firmware / PACKAGE) != app_package(firmware):
        out.append(f"firmware/{PACKAGE} does not list the firmware's files")
    for name in board_names(boards_dir):
        if _read(boards_dir / f"{name}{BOARD_PACKAGE_SUFFIX}") != board_package(name):
            out.append(f"boards/{name}{BOARD_PACKAGE_SUFFIX} is missing or out of date")
    return out


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def update(firmware: Path = FIRMWARE_DIR, boards_dir: Path = BOARDS_DIR) -> list[Path]:
    """Rewrite the mip package files from the file list; return the files written."""
    written = []
    for path, doc in [(firmware / PACKAGE, app_package(firmware))] + [
        (boards_dir / f"{n}{BOARD_PACKAGE_SUFFIX}", board_package(n))
        for n in board_names(boards_dir)
    ]:
        text = _format(doc)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written


def _format(doc: dict[str, Any]) -> str:
    """package.json text: one [destination, source] pair a line."""
    urls = ",\n".join(f"    {json.dumps(pair)}" for pair in doc["urls"])
    return f'{{\n  "urls": [\n{urls}\n  ],\n  "version": {json.dumps(doc["version"])}\n}}\n'


def check() -> None:
    """Raise CommandError when the manifest or a mip package disagrees with firmware/."""
    found = problems()
    if found:
        raise CommandError(
            "the MicroPython packaging disagrees with firmware/:\n  "
            + "\n  ".join(found)
            + "\nrun `nbkit build --update-packages` (package.json files) and edit "
            f"firmware/{MANIFEST} if it names modules"
        )
