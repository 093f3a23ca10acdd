"""`nbkit` command line: a table of commands, each in its own module, loaded on demand.

Every command module exposes ``configure(parser)`` and ``run(args) -> int``. Only the chosen
command's module is imported (``nbkit --help`` imports none), so one broken or slow room does not
cost every other command. Any
:class:`CommandError` becomes ``nbkit: <message>`` on stderr and exit code 1; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from host_tools import __version__
from host_tools.errors import CommandError, broken_pipe, describe_unexpected

_H = "host_tools."
# name -> (the command's module, one-line help), grouped by room (the package under host_tools)
_COMMANDS: dict[str, tuple[str, str]] = {
    # rig: the virtual device end to end
    "demo": (_H + "rig.demo", "run the virtual device end to end (what `make demo` runs)"),
    # fleet: many virtual meters as independent cells
    "fleet": (_H + "fleet.command", "run N virtual meters (real firmware each) as sharded cells"),
    # device: real and virtual boards
    "build": (_H + "device.build", "cross-compile the firmware with mpy-cross for a board"),
    "boards": (_H + "device.boards", "list the boards and check their data files"),
    "deploy": (_H + "device.deploy", "copy the built firmware to a board, only what changed"),
    "provision": (_H + "device.provision", "provision a device over its service console"),
    "keys": (_H + "device.keys", "device keys: `keys new` makes, registers and provisions one"),
    "flash": (_H + "device.flash", "write MicroPython firmware onto a board (esptool / UF2)"),
    # vboard, emulator, meterbus: the virtual world around a device
    "vboard": (_H + "vboard.command", "run the firmware as a virtual board (console, flash)"),
    "board": (_H + "vboard.board", "drive a virtual board: pulses, magnet, smoke, power, status"),
    "emulate": (_H + "emulator.emulate", "emulate a BC95/BC28/BC26/EC200 modem on a pty"),
    "meterbus": (_H + "meterbus.command", "emulate a CJ/T 188 or DL/T 645 meter on a pty"),
    "meter": (_H + "meterbus.decode", "meter-bus tools: decode a captured frame"),
    # collector: the server side
    "collect": (
        _H + "collector.collect",
        "collector (UDP/TCP/MQTT/CoAP): verify, dedup, store, ack",
    ),
    "readings": (_H + "collector.readings", "list the readings the collector stored"),
    "broker": (_H + "collector.broker", "a real MQTT broker (amqtt) on loopback for tests, demos"),
    # energy and bench: figures
    "energy": (_H + "energy.command", "charge per report/day and battery life by the model"),
    "timers": (_H + "energy.timers", "encode/decode 3GPP PSM and eDRX timer bit strings"),
    "bench": (_H + "bench.command", "print the speed, memory and energy figures"),
}


def register(name: str, module: str, help_text: str) -> None:
    """Add a command to the table (used by modules that ship optional commands)."""
    _COMMANDS[name] = (module, help_text)


def _parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; only the ``chosen`` command gets its options (and its import)."""
    parser = argparse.ArgumentParser(
        prog="nbkit",
        description="nbkit: build, emulate, deploy and provision NB-IoT meter firmware.",
        epilog="Run `nbkit COMMAND --help` for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"nbkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in _COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.set_defaults(_module=module)
        if name == chosen:
            importlib.import_module(module).configure(cmd)
            _add_example(name, cmd)
    return parser


def _add_example(name: str, cmd: argparse.ArgumentParser) -> None:
    """Every --help ends with an example (EXAMPLES below)."""
    epilog = epilog_with_example(name, cmd.epilog, cmd.description)
    if epilog != cmd.epilog:
        cmd.epilog = epilog
        if cmd.formatter_class is argparse.HelpFormatter:
            cmd.formatter_class = argparse.RawDescriptionHelpFormatter


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `nbkit` console script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    args = _parser(chosen).parse_args(argv)
    try:
        code = int(importlib.import_module(args._module).run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below
        return code
    except CommandError as exc:
        print(f"nbkit: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nbkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return broken_pipe()
    except Exception as exc:  # the last net: no input ends in a traceback (docs/security.md)
        print(f"nbkit: {describe_unexpected(exc)}", file=sys.stderr)
        if os.environ.get("NBKIT_TRACEBACK"):
            traceback.print_exc()
        return 1


#: one example command line per `nbkit` command, shown at the end of its --help (a command
#: whose own help already shows an example keeps it)
EXAMPLES: dict[str, str] = {
    "build": "nbkit build --board esp32_bc28 --json",
    "boards": "nbkit boards --wiring",
    "demo": "nbkit demo --profile water --transport mqtt --json",
    "bench": "nbkit bench --suite payload --json",
    "deploy": "nbkit deploy --board esp32_bc28 --port /dev/ttyUSB0",
    "provision": "nbkit provision --port /dev/ttyUSB0 --json identify",
    "energy": "nbkit energy --model bc28 --reports-per-day 4 --mode a --json",
    "timers": "nbkit timers encode --t3412 24h --t3324 10s --edrx 81.92s --json",
    "collect": "nbkit collect --listen 0.0.0.0:5683 --db readings.db --keys keys.json",
    "readings": "nbkit readings --db readings.db --device 1042 --json",
    "keys": "nbkit keys new --device 1042 --keys keys.json --json",
    "meterbus": "nbkit meterbus --protocol cjt188 --meter-type water --set total=123456",
    "meter": "nbkit meter decode cjt188 68 10 44 33 22 11 00 00 00 01 03 1F 90 01 D6 16 --json",
    "vboard": "nbkit vboard --console --flash /tmp/board.img",
    "board": "nbkit board --port 40123 pulse pulse_a 10",
    "flash": "nbkit flash --board esp32_bc28 --port /dev/ttyUSB0 --firmware ESP32_GENERIC.bin",
    "emulate": "nbkit emulate --modem bc28",
    "broker": "nbkit broker --listen 127.0.0.1:1883",
}


def epilog_with_example(name: str, epilog: str | None, description: str | None) -> str | None:
    """The command's epilog with its example appended, unless its help already has one."""
    shown = f"{description or ''}\n{epilog or ''}".lower()
    example = EXAMPLES.get(name)
    if example is None or "example" in shown:
        return epilog
    return f"{epilog}\n\nexample:\n  {example}" if epilog else f"example:\n  {example}"


if __name__ == "__main__":
    sys.exit(main())
