"""The collector's key file: JSON ``{"devices": {"<id>": {"key": "<hex>"}}}``, mode 0600."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from host_tools.errors import CommandError
from host_tools.files.private import warn_if_shared, write_private


def fingerprint(key: bytes) -> str:
    """Short public identifier of a key: first 8 bytes of SHA-256(key), hex."""
    return hashlib.sha256(key).hexdigest()[:16]


def load(path: Path) -> dict[int, bytes]:
    """Device id -> key; CommandError naming the problem."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise CommandError(f"{path}: no key file (create one with `nbkit keys new`)") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: not valid JSON ({exc})") from exc
    except OSError as exc:
        raise CommandError(f"{path}: cannot read the key file ({exc.strerror or exc})") from exc
    warning = warn_if_shared(path, "device keys")
    if warning:
        print(warning, file=sys.stderr)
    keys: dict[int, bytes] = {}
    try:
        for dev, entry in data["devices"].items():
            keys[int(dev)] = bytes.fromhex(entry["key"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CommandError(f"{path}: expected {{'devices': {{id: {{'key': hex}}}}}}") from exc
    return keys


def save(path: Path, keys: dict[int, bytes]) -> None:
    """Write atomically, readable by the owner only (0600)."""
    data: dict[str, Any] = {
        "devices": {
            str(dev): {"key": key.hex(), "fingerprint": fingerprint(key)}
            for dev, key in sorted(keys.items())
        }
    }
    write_private(path, json.dumps(data, indent=2) + "\n")
