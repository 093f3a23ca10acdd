"""`nbkit keys new`: make a device key, register it with the collector, write the device config.

The one key flow (docs/keys.md): the key is generated here from ``secrets``, added to the
collector's key file (0600) and written into a device config JSON (0600) that factory
provisioning puts on the device's flash. Only the fingerprint is printed unless ``--show``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from pathlib import Path
from typing import Any

from nbkit.store import config

from host_tools.collector import keyfile
from host_tools.collector.collect import parse_hostport
from host_tools.errors import CommandError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = sub.add_parser("new", help="generate a key for a device and register it")
    new.add_argument("--device", type=int, required=True, help="device id (0..4294967295)")
    new.add_argument("--keys", type=Path, required=True, help="collector key file (created 0600)")
    new.add_argument("--bytes", type=int, choices=(16, 32), default=16, help="key length")
    new.add_argument("--config", type=Path, help="write the device config JSON here (0600)")
    new.add_argument(
        "--server",
        default="127.0.0.1:5683",
        metavar="HOST:PORT",
        help="collector address put into the device config",
    )
    new.add_argument("--apn", default="", help="APN put into the device config")
    new.add_argument("--force", action="store_true", help="replace an existing key (rotation)")
    new.add_argument("--show", action="store_true", help="also print the key itself")
    new.add_argument("--json", action="store_true", help="print the result as JSON")


def new_key(
    device: int,
    keys_path: Path,
    *,
    config_path: Path | None = None,
    server: str = "127.0.0.1:5683",
    apn: str = "",
    nbytes: int = 16,
    force: bool = False,
) -> tuple[bytes, dict[str, Any]]:
    """Make a key for ``device``, add it to ``keys_path`` and write the device config (0600).

    Returns the key and the summary ``nbkit keys new --json`` prints (device, fingerprint, keys,
    config). Raises :class:`CommandError` for a bad device id, a taken id without ``force`` or a
    config the firmware would refuse.
    """
    if not 0 <= device <= 0xFFFFFFFF:
        raise CommandError("--device must be 0..4294967295")
    keys = keyfile.load(keys_path) if keys_path.exists() else {}
    if device in keys and not force:
        raise CommandError(
            f"device {device} already has a key in {keys_path} "
            "(--force replaces it; the device must then get the new config)"
        )
    host, port = parse_hostport(server)
    key = secrets.token_bytes(nbytes)
    cfg = {
        "device_id": device,
        "key": key.hex(),
        "server_host": host,
        "server_port": port,
        "apn": apn,
    }
    try:
        cfg = config.validate(cfg)
    except config.ConfigError as exc:
        raise CommandError(f"device config: {exc}") from exc
    if config_path:
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
    keys[device] = key
    keyfile.save(keys_path, keys)
    result: dict[str, Any] = {
        "device": device,
        "fingerprint": keyfile.fingerprint(key),
        "keys": str(keys_path),
        "config": str(config_path) if config_path else None,
    }
    return key, result


def run(args: argparse.Namespace) -> int:
    key, result = new_key(
        args.device,
        args.keys,
        config_path=args.config,
        server=args.server,
        apn=args.apn,
        nbytes=args.bytes,
        force=args.force,
    )
    if args.show:
        result["key"] = key.hex()
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"device {args.device}: key fingerprint {result['fingerprint']} added to {args.keys}"
        )
        if args.config:
            print(f"device config written to {args.config} (contains the key: keep it private)")
        if args.show:
            print(f"key {key.hex()}")
    return 0
