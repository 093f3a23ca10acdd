"""`nbkit keys new`: make a device key, register it with the collector, write the device config.

The one key flow (docs/keys.md): the key is generated here from ``secrets``, added to the
collector's key file (0600) and written into a device config JSON (0600) that factory
provisioning puts on the device's flash. Only the fingerprint is printed unless ``--show``.
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path

from nbkit.store import config

from host_tools.collect import parse_hostport
from host_tools.collector import keyfile
from host_tools.errors import CommandError
from host_tools.privfile import write_private


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


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.device <= 0xFFFFFFFF:
        raise CommandError("--device must be 0..4294967295")
    keys = keyfile.load(args.keys) if args.keys.exists() else {}
    if args.device in keys and not args.force:
        raise CommandError(
            f"device {args.device} already has a key in {args.keys} "
            "(--force replaces it; the device must then get the new config)"
        )
    host, port = parse_hostport(args.server, "--server")
    key = secrets.token_bytes(args.bytes)
    cfg = {
        "device_id": args.device,
        "key": key.hex(),
        "server_host": host,
        "server_port": port,
        "apn": args.apn,
    }
    try:
        cfg = config.validate(cfg)
    except config.ConfigError as exc:
        raise CommandError(f"device config: {exc}") from exc
    if args.config:
        write_private(args.config, json.dumps(cfg, indent=2) + "\n")
    keys[args.device] = key
    keyfile.save(args.keys, keys)
    result = {
        "device": args.device,
        "fingerprint": keyfile.fingerprint(key),
        "keys": str(args.keys),
        "config": str(args.config) if args.config else None,
    }
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
