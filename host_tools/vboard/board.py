"""`nbkit board`: drive a running virtual board's pins and power over its UDP control channel.

A client of the control protocol that `nbkit vboard --help` documents (one ASCII command per
datagram, one reply each); it never reaches into the board's internals.
"""

from __future__ import annotations

import argparse
import json
import os

from host_tools.errors import CommandError
from host_tools.vboard.parts import send_control

ENV_PORT = "NBKIT_VBOARD_CONTROL"
#: smoke chamber ADC levels the demo uses (0..65535 on the smoke_adc pin)
SMOKE_LEVELS = {"clear": 8000, "alarm": 42000}

HELP = """\
Drive a running `nbkit vboard`: meter pulses, the magnet at a water meter, the smoke chamber,
the power, and the board's status. The control port is the second line `nbkit vboard --console`
prints (`control 127.0.0.1:PORT`); give it with --port or the environment variable
NBKIT_VBOARD_CONTROL.

examples:
  nbkit board --port 40123 pulse pulse_a 10          ten meter pulses, one per virtual second
  nbkit board --port 40123 magnet on                 hold a magnet at the meter (tamper pin low)
  nbkit board --port 40123 smoke alarm               smoke in the chamber (smoke_adc 42000)
  nbkit board --port 40123 power cut                 cut the power; `power restore` boots it
  nbkit board --port 40123 status --json             the board's state as JSON"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = HELP
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"UDP control port on 127.0.0.1 (default: ${ENV_PORT})",
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for a reply")
    parser.add_argument(
        "--json", action="store_true", help="print {command, reply} (status: its document) as JSON"
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    pulse = sub.add_parser("pulse", help="N pulses on a pulse input (e.g. pulse_a)")
    pulse.add_argument("channel", help="the pin: pulse_a, pulse_b, ...")
    pulse.add_argument("count", type=int, help="number of pulses (1..100000)")
    pulse.add_argument(
        "--period-ms", type=float, default=1000.0, help="virtual ms between pulses (default 1000)"
    )
    magnet = sub.add_parser("magnet", help="a magnet at the meter: on (tamper pin low) or off")
    magnet.add_argument("state", choices=["on", "off"])
    smoke = sub.add_parser("smoke", help="the smoke chamber: alarm, clear, or an ADC value")
    smoke.add_argument("level", help="alarm (42000), clear (8000) or 0..65535")
    power = sub.add_parser("power", help="cut, restore or cycle the power")
    power.add_argument("what", choices=["cut", "restore", "cycle"])
    pin = sub.add_parser("set", help="drive any pin: 0/1, or 0..65535 on an ADC pin")
    pin.add_argument("pin")
    pin.add_argument("value", type=int)
    sub.add_parser("wake", help="end a deep sleep now")
    status = sub.add_parser("status", help="the board's state (pins, boots, mode, virtual time)")
    status.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print the JSON document"
    )


def _port(args: argparse.Namespace) -> int:
    if args.port is not None:
        return int(args.port)
    text = os.environ.get(ENV_PORT, "")
    if not text.isdigit():
        raise CommandError(
            "no control port: give --port PORT (the `control 127.0.0.1:PORT` line of "
            f"`nbkit vboard --console`) or set {ENV_PORT}"
        )
    return int(text)


def command_text(args: argparse.Namespace) -> str:
    """The control-channel command for the parsed action."""
    if args.action == "pulse":
        return f"pulse {args.channel} {args.count} {args.period_ms:g}"
    if args.action == "magnet":
        return f"set tamper {0 if args.state == 'on' else 1}"
    if args.action == "smoke":
        level = SMOKE_LEVELS.get(args.level, args.level)
        if not str(level).isdigit() or not 0 <= int(level) <= 65535:
            raise CommandError(f"smoke {args.level!r}: give alarm, clear or a value 0..65535")
        return f"set smoke_adc {level}"
    if args.action == "power":
        return "power " + {"cut": "off", "restore": "on", "cycle": "cycle"}[args.what]
    if args.action == "set":
        return f"set {args.pin} {args.value}"
    return str(args.action)  # wake, status


def run(args: argparse.Namespace) -> int:
    text = command_text(args)
    reply = send_control(_port(args), text, timeout=args.timeout)
    if reply.startswith("error"):
        raise CommandError(f"board: {reply[len('error') :].strip()}")
    if args.action != "status":
        print(json.dumps({"command": text, "reply": reply}) if args.json else reply)
        return 0
    doc = json.loads(reply)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    boot = doc.get("last_boot") or {}
    print(f"state {doc['state']}, mode {doc['mode']}, boots {doc['boots']}, last boot {boot}")
    print(f"virtual time {doc['virtual_s']:.0f} s, pending pulses {doc['pending_pulses']}")
    for name, pin in doc["pins"].items():
        print(f"  {name:12} {pin['value']:>6}  falling {pin['falling']}  rising {pin['rising']}")
    return 0
