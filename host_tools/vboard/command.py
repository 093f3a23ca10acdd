"""`nbkit vboard`: the virtual board, the firmware in the MicroPython unix port wired as a board.

One host process (this module) plays the board's physical world around a MicroPython process:

* **Console**: a pty of its own (``--console`` prints its path as the first stdout line) or this
  terminal. Bytes are relayed to the MicroPython process, which sits on an inner pty with the
  line discipline of a UART (raw, no echo) except that Ctrl-C raises ``KeyboardInterrupt`` in
  running code. The REPL is MicroPython's own (``pyexec``): friendly REPL, raw REPL (Ctrl-A) and
  raw-paste mode work byte for byte as on a board. A soft reset (Ctrl-D in the REPL, or
  ``sys.exit()`` in main.py) ends the unix process; the host prints ``MPY: soft reboot`` and boots
  a fresh process on the same flash image — back in the raw REPL (main.py skipped) when the reset
  came from the raw REPL, exactly what ``mpremote`` expects.
* **Modem UART**: ``--modem-port PATH``, any tty (an emulator pty or a real USB-UART).
* **Meter-bus UART**: ``--meterbus-port PATH``, a tty (a ``nbkit meterbus`` pty or a USB-UART).
* **Flash**: ``--flash FILE``, a littlefs2 image (created blank with ``--flash-size`` if missing;
  the board formats it at first boot like a real one). The MicroPython process mounts it at ``/``
  with ``vfs.VfsLfs2`` on a file-backed block device, so power-loss behaviour is littlefs's own.
* **Clock**: ``--clock WALL_START,EPOCH,1`` (real time shared with the emulator) or
  ``--clock sim:HOST:PORT:CHAN`` (a rig's time master; docs/architecture.md).
* **Pins and power**: a UDP control channel on 127.0.0.1 (protocol below). The pin levels and edge
  counters live here, so they keep counting while the board sleeps or reboots.
* **Power cut**: SIGKILL the MicroPython process (``status`` gives its pid); the board boots again.

Control channel (one ASCII command per datagram, one reply datagram each)::

    pulse <pin> <n> [<period_ms>]   n pulses (level 0 then back) every period_ms virtual ms
    set <pin> <value>               drive a pin (0/1, or 0..65535 for an ADC pin)
    get <pin>                       -> pin <name> <value> <falling> <rising>
    wake                            end a deep sleep now
    power off | on | cycle          cut / restore / cycle the board's power
    status                          -> JSON: state, pid, boots, last boot (cause, wake pin),
                                       mode, virtual time, pins
"""

from __future__ import annotations

import argparse
import os
import pty
import sys
import termios
import tty
from pathlib import Path
from typing import Any

from host_tools import FIRMWARE_DIR
from host_tools.device import boards
from host_tools.errors import CommandError
from host_tools.vboard.host import VBoard
from host_tools.vboard.parts import (
    Options,
    PinState,
    VirtualClock,
    ensure_flash,
    install_signals,
    log,
    parse_clock,
    send_control,
)

__all__ = [
    "Options",
    "PinState",
    "VBoard",
    "VirtualClock",
    "ensure_flash",
    "parse_clock",
    "send_control",
]

HELP = """\
Run the firmware in the MicroPython unix port as if it were a board: flash = a littlefs2 image
file, modem UART = any tty, RTC and deep sleep = the virtual clock shared with `nbkit emulate`,
meter pins = driven from the host, console = a pty (--console) or this terminal.

With --console, stdout line 1 is the console pty path (for `mpremote connect PATH`, `nbkit
deploy --port PATH`) and line 2 is `control 127.0.0.1:PORT`. The console speaks MicroPython's
REPL, raw REPL and raw-paste mode; a soft reset reboots a fresh MicroPython process on the same
flash image. SIGINT/SIGTERM stop the board (exit 0). SIGKILL of the MicroPython process (pid in
`status`) is a power cut: the board boots again."""

CONTROL_HELP = """\
control channel: UDP on 127.0.0.1, one command per datagram, one reply each
  pulse PIN N [PERIOD_MS]   N pulses (0 then back to 1) every PERIOD_MS virtual ms -> ok
  set PIN VALUE             drive a pin: 0/1, or 0..65535 on an ADC pin           -> ok
  get PIN                   -> pin PIN VALUE FALLING RISING (edge counters since power-up)
  wake                      end a deep sleep now                                  -> ok
  power off|on|cycle        cut / restore / cycle the power                       -> ok
  cut N [torn]              power-cycle; in that boot the power fails at flash write N
                            (programs and erases counted from boot; torn: after half of it)
  arm N [torn]              the same cut in the board's next boot or deep-sleep wake, with
                            no power cycle now (a cut inside a given wake)        -> ok
  status                    -> JSON: state, pid, boots, last_boot {cause, wake}, mode,
                            virtual_s, pins, cuts
  anything else             -> error <reason>
The same from the command line: `nbkit board --port PORT pulse pulse_a 10` (see `nbkit board
--help`).

example:
  nbkit vboard --console --flash /tmp/board.img      # line 1: the console pty, line 2: control
  mpremote connect /dev/pts/N ls :                   # any MicroPython tool on the console pty"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = HELP
    parser.epilog = CONTROL_HELP
    parser.add_argument("--board", default="unix_sim", help="board data (default unix_sim)")
    parser.add_argument("--flash", required=True, type=Path, help="littlefs2 flash image file")
    parser.add_argument(
        "--flash-size",
        type=int,
        default=1024 * 1024,
        help="size in bytes of a new flash image (default 1 MiB, 4 KiB blocks: the firmware, "
        "its data, and room to stage a full `nbkit deploy` beside it)",
    )
    parser.add_argument("--modem-port", help="tty of the modem UART (emulator pty or USB-UART)")
    parser.add_argument(
        "--modem-baud",
        type=int,
        metavar="N",
        help="the modem UART's speed instead of the board data's (a real module on a "
        "USB-UART: 9600 for BC95/BC28 out of the box, 115200 for EC200)",
    )
    parser.add_argument(
        "--meterbus-port", help="tty of the meter-bus UART (`nbkit meterbus` pty or USB-UART)"
    )
    parser.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pin's level when the board starts (0/1, 0..65535 on an ADC pin; repeatable; "
        "default 1)",
    )
    parser.add_argument(
        "--clock",
        metavar="WALL_START,EPOCH,1|sim:HOST:PORT:CHAN",
        help="real time shared with the emulator (its stderr prints the triple; SCALE is 1), or "
        "a rig's time master (default: real time from now)",
    )
    parser.add_argument("--main", type=Path, help="run this script instead of main.py")
    parser.add_argument(
        "--app",
        type=Path,
        default=FIRMWARE_DIR,
        help="the code built into the board: a ROM image of this tree, mapped outside the heap "
        "and mounted at /.frozen (.mpy modules run in place; default firmware/)",
    )
    parser.add_argument(
        "--rom",
        type=Path,
        metavar="FILE",
        help="the ROM image of --app, built beforehand (the rigs build one for all the boards "
        "of a fleet cell); default: built from --app at start",
    )
    parser.add_argument(
        "--build-profile",
        choices=("development", "production"),
        help="build the firmware with `nbkit build --profile` into FLASH.app/ and run that "
        "(production: console locked, no REPL; default: --app as it is)",
    )
    parser.add_argument("--seed-config", type=Path, help="factory config written at first boot")
    parser.add_argument(
        "--seed-path", default="config.json", help="where the seed config goes on the flash"
    )
    parser.add_argument(
        "--heap",
        help="MicroPython heap, as -X heapsize takes it (default: the board's heap_bytes as "
        "bytes of a 32-bit MCU with the w suffix, e.g. 131072w: the unix port doubles it, as its "
        "64-bit objects take twice the bytes of the same objects on a 32-bit board)",
    )
    parser.add_argument(
        "--heap-watch",
        action="store_true",
        help="collect the garbage at every UART and flash access and print the peak live heap "
        "at the end of each wake (`nbkit: heap peak N free-min N of N`; slower wakes)",
    )
    parser.add_argument(
        "--console",
        action="store_true",
        help="console on a new pty whose path is the first stdout line (default: this terminal;"
        " Ctrl-] quits)",
    )
    parser.add_argument(
        "--console-counted",
        action="store_true",
        help="with --clock sim:...: what reaches the console is typed by a participant of the "
        "time master that counts it (CHAN.con>, a test driving the board): time waits for it, "
        "so console input does not pace the board at wall speed as a person's does",
    )
    parser.add_argument(
        "--control-port", type=int, default=0, help="UDP port of the control channel (0: any)"
    )
    parser.add_argument(
        "--cut-at-write",
        type=int,
        default=0,
        metavar="N",
        help="first boot: the power fails at flash write N (programs and erases from boot)",
    )
    parser.add_argument(
        "--torn", action="store_true", help="with --cut-at-write: half of write N lands"
    )


#: the speeds a Linux tty (and the firmware's nbkit.hal.tty) can be set to
BAUDS = (4800, 9600, 19200, 38400, 57600, 115200)


def _with_baud(board: dict[str, Any], baud: int) -> dict[str, Any]:
    """The board data with the modem UART at ``baud`` (checked against what a tty can do)."""
    if baud not in BAUDS:
        raise CommandError(f"--modem-baud {baud}: one of {', '.join(map(str, BAUDS))}")
    modem = board["modem"]
    return {**board, "modem": {**modem, "uart": {**modem["uart"], "baud": baud}}}


def options(args: argparse.Namespace) -> Options:
    """Check the command line and build the Options."""
    board = boards.load(args.board)
    if board["port"] != "unix":
        raise CommandError(f"board '{args.board}' is a {board['port']} board, not a virtual one")
    if getattr(args, "modem_baud", None):
        board = _with_baud(board, args.modem_baud)
    for label, path in (("--main", args.main), ("--seed-config", args.seed_config)):
        if path is not None and not path.is_file():
            raise CommandError(f"{label} {path}: no such file")
    if getattr(args, "build_profile", None):
        from host_tools.device.build import build_board

        out = args.flash.parent / (args.flash.name + ".app")
        build_board(args.board, out, profile=args.build_profile)
        args.app = out / args.board
    hal = args.app / "nbkit" / "hal"
    if not ((hal / "unix_board.py").is_file() or (hal / "unix_board.mpy").is_file()):
        raise CommandError(
            f"--app {args.app}: no nbkit/hal/unix_board(.py|.mpy) in it: give "
            "firmware/ or a `nbkit build --board unix_sim` output folder"
        )
    if args.cut_at_write < 0:
        raise CommandError("--cut-at-write must be >= 1 (0: no cut)")
    if args.modem_port and not os.path.exists(args.modem_port):
        raise CommandError(f"--modem-port {args.modem_port}: no such device")
    if args.meterbus_port and not os.path.exists(args.meterbus_port):
        raise CommandError(f"--meterbus-port {args.meterbus_port}: no such device")
    ensure_flash(args.flash, args.flash_size)
    if args.rom is not None and not args.rom.is_file():
        raise CommandError(f"--rom {args.rom}: no such file (build it, or leave --rom out)")
    levels = _pin_levels(args.pin, board)
    counted = bool(getattr(args, "console_counted", False))
    if counted and not (args.clock or "").startswith("sim:"):
        raise CommandError("--console-counted counts for a time master: give --clock sim:...")
    return Options(
        board=board,
        flash=args.flash,
        flash_size=args.flash_size,
        modem_port=args.modem_port,
        clock=parse_clock(args.clock),
        main=args.main,
        app=args.app,
        rom=args.rom,
        seed_config=args.seed_config,
        seed_path=args.seed_path,
        heap=args.heap or f"{board['heap_bytes']}w",
        heap_watch=args.heap_watch,
        console_pty=args.console,
        console_counted=counted,
        control_port=args.control_port,
        cut_at_write=args.cut_at_write,
        torn=args.torn,
        meterbus_port=args.meterbus_port,
        pin_levels=levels,
    )


def _pin_levels(items: list[str], board: dict[str, Any]) -> dict[str, int]:
    """--pin NAME=VALUE items -> {name: value}, checked against the board's pins."""
    levels = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value.isdigit() or not 0 <= int(value) <= 65535:
            raise CommandError(f"--pin {item!r}: expected NAME=VALUE with VALUE 0..65535")
        if name not in board["pins"]:
            raise CommandError(
                f"--pin {item!r}: no pin {name!r}; pins: {', '.join(board['pins'])}"
            )
        levels[name] = int(value)
    return levels


def run(args: argparse.Namespace) -> int:
    opts = options(args)
    install_signals()
    saved = None
    if opts.console_pty:
        master, slave = pty.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        cin = cout = master
        print(os.ttyname(slave), flush=True)
    else:
        cin, cout = sys.stdin.fileno(), sys.stdout.fileno()
        if os.isatty(cin):
            saved = termios.tcgetattr(cin)
            tty.setraw(cin)  # the board sends CRLF itself, as a real one does
    board = VBoard(opts, cin, cout)
    if opts.console_pty:
        print(f"control 127.0.0.1:{board.control_port}", flush=True)
    log(
        f"control udp 127.0.0.1:{board.control_port}, flash {opts.flash}, "
        f"clock {opts.clock.triple()}"
    )
    try:
        board.run()
    finally:
        if saved is not None:
            termios.tcsetattr(cin, termios.TCSADRAIN, saved)
    if board.failure:
        raise CommandError(board.failure)
    return 0
