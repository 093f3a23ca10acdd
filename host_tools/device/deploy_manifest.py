"""What `nbkit deploy` accepts from a device's ``.deploy/manifest.json``: the device is not
trusted with deciding what the host deletes.

The manifest is ``{"<device path>": "<sha256 hex>", ...}``. :func:`check_manifest` refuses,
before anything is written, a manifest that is not such an object or that names an unsafe path
(absolute, ``..``, ``.``, empty parts, backslashes, control characters, over 255 characters): a
tampered or damaged manifest is a clear error, never a traceback and never acted on.

Of the safe paths, :func:`removal_refused` keeps (does not remove) a listed file that the new
build lacks when it is

* protected: ``config.json``, ``boot.py``, anything that looks like a key (``*key*``, ``*.pem``,
  ``*.der``), the event log and ``.deploy/`` itself; or
* outside the app folder: the app is what a build produces (``main.py``, ``board.json`` and the
  ``nbkit/`` package, i.e. the top-level names of the local build);

unless the user names that exact path with ``--allow-remove PATH``.
"""

from __future__ import annotations

import re
from typing import Any

from host_tools.errors import CommandError

MANIFEST_FIX = (
    "remove it on the device (`mpremote rm :.deploy/manifest.json`) and deploy again: every "
    "file is then copied and nothing removed"
)
PROTECTED_FILES = frozenset({"config.json", "boot.py", "events.log"})
_KEYLIKE = re.compile(r"(key|secret|\.pem$|\.der$)", re.IGNORECASE)
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
MAX_PATH = 255


def unsafe_path(path: object) -> str | None:
    """Why ``path`` cannot be a device path of the app, or None when it is a safe one."""
    if not isinstance(path, str) or not path:
        return "not a non-empty string"
    if len(path) > MAX_PATH:
        return f"longer than {MAX_PATH} characters"
    if not path.isprintable() or "\\" in path:
        return "control characters or backslashes"
    if path.startswith("/"):
        return "an absolute path"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "'..', '.' or an empty part"
    return None


def check_manifest(data: Any, where: str) -> dict[str, str]:
    """The device's manifest as {path: digest}; CommandError naming the first problem."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CommandError(
            f"the device's {where} is a JSON {type(data).__name__}, not an object of file "
            f"hashes; nothing was changed - {MANIFEST_FIX}"
        )
    for path, digest in data.items():
        why = unsafe_path(path)
        if why:
            raise CommandError(
                f"the device's {where} lists {path!r} ({why}): damaged or tampered; nothing "
                f"was changed - {MANIFEST_FIX}"
            )
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise CommandError(
                f"the device's {where} gives {path!r} the hash {digest!r}, not 64 hex digits; "
                f"nothing was changed - {MANIFEST_FIX}"
            )
    return dict(data)


def app_roots(local: dict[str, str]) -> tuple[frozenset[str], frozenset[str]]:
    """(top-level files, top-level folders) of a build: the app folder's extent."""
    files = frozenset(p for p in local if "/" not in p)
    dirs = frozenset(p.split("/", 1)[0] for p in local if "/" in p)
    return files, dirs


def removal_refused(
    path: str, local: dict[str, str], allow: frozenset[str] = frozenset()
) -> str | None:
    """Why a file the old manifest lists must be kept, or None when it may be removed."""
    if path in allow:
        return None
    name = path.rsplit("/", 1)[-1]
    if path in PROTECTED_FILES or path.startswith(".deploy/") or _KEYLIKE.search(name):
        return f"protected (name it with --allow-remove {path} to delete it)"
    files, dirs = app_roots(local)
    top = path.split("/", 1)[0]
    if not (top in dirs and "/" in path) and path not in files:
        return f"outside the app folder (name it with --allow-remove {path} to delete it)"
    return None


def check_journal(data: Any, where: str, local: dict[str, str]) -> None:
    """Refuse to finish a device's pending deploy journal the host did not write as such:
    moves only from ``.deploy/stage/`` onto safe app paths, removals as :func:`removal_refused`
    allows, a valid manifest. CommandError naming the first problem."""
    fix = f"nothing was changed - remove it (`mpremote rm :{where}`) and deploy again"
    if not isinstance(data, dict):
        raise CommandError(f"the device's {where} is not a deploy journal; {fix}")
    moves, remove = data.get("moves"), data.get("remove")
    if not isinstance(moves, list) or not isinstance(remove, list):
        raise CommandError(f"the device's {where} lacks its moves or removals; {fix}")
    for move in moves:
        ok = isinstance(move, list) and len(move) == 2
        src, dst = move if ok else (None, None)
        if (
            not ok
            or unsafe_path(src)
            or unsafe_path(dst)
            or not str(src).startswith(".deploy/stage/")
        ):
            raise CommandError(f"the device's {where} has the move {move!r}: tampered; {fix}")
        if removal_refused(str(dst), local):  # a move lands on its target: same rules
            raise CommandError(f"the device's {where} would overwrite {dst!r}; {fix}")
    for path in remove:
        why = unsafe_path(path) or removal_refused(str(path), local)
        if why:
            raise CommandError(f"the device's {where} would remove {path!r} ({why}); {fix}")
    check_manifest(data.get("manifest"), f"{where} manifest")
