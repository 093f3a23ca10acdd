"""Parts of the virtual board host: the shared clock, pins, options, flash file, signals."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import sys
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_tools import FIRMWARE_DIR
from host_tools.emulator.clock import check_shared_scale
from host_tools.errors import CommandError
from host_tools.files.private import write_private

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_MARK = b'Type "help()" for more information.'
UNIX_BANNER = re.compile(
    rb'MicroPython [^\r\n]*\r\nType "help\(\)" for more information\.\r\n>>> (\r\n)?'
)
SOFT_REBOOT = b"MPY: soft reboot\r\n"
# The unix port writes print() and sys.stdout.buffer to one fd: the host cooks LF -> CRLF as a
# bare-metal port's print does, except after CAN (0x18), the byte that opens every command of
# mpremote's mount protocol, whose binary frames a board sends raw (until the next boot).
BINARY_START = b"\x18"
OUT_LIMIT = 256 * 1024  # console bytes held for a slow reader; the oldest are dropped beyond
IN_LIMIT = 64 * 1024  # console bytes held for a busy board
MAX_PULSES = 100_000  # per `pulse` command
EXIT_KEY = b"\x1d"  # Ctrl-] ends `nbkit vboard` when the console is this terminal
BLOCK_SIZE = 4096
# what the board runs first: its ROM (the --app tree as a ROMFS image the launcher mapped,
# host_tools.vboard.rom) mounted at /.frozen, as a board's port mounts its ROMFS partition before
# anything is imported, then the board's boot (nbkit.hal.unix_board)
BOOT_CODE = (
    "import os,vfs\n"
    "r=os.getenv('NBKIT_ROM')\n"
    "if r:\n"
    " import uctypes\n"
    " r=r.split(':')\n"
    " vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(r[0]),int(r[1]))),'/.frozen')\n"
    " del uctypes\n"
    "del r,os,vfs\n"  # the REPL's globals are those of a board's: no boot names
    "from nbkit.hal import unix_board\n"
    "unix_board.boot()"
)


@dataclass
class VirtualClock:
    """virtual_s = epoch + (wall_s - wall_start) * scale."""

    wall_start: float
    epoch: float
    scale: float

    def now(self) -> float:
        """Virtual seconds now."""
        return self.epoch + (time.time() - self.wall_start) * self.scale

    def wall_after(self, virtual_ms: float) -> float:
        """Wall time (time.time()) at which virtual_ms of virtual time from now have passed."""
        return time.time() + virtual_ms / 1000 / self.scale

    def triple(self) -> str:
        """The --clock argument that reproduces this clock."""
        return f"{self.wall_start:.6f},{self.epoch:.3f},{self.scale:g}"


class SimHostClock:
    """The board host's clock under the rig's time master (``--clock sim:HOST:PORT:CHAN``):
    virtual time is the master's; CHAN names this meter's channels (``CHAN.uart.up`` ...).
    The connection is made by :meth:`connect` when the host starts serving."""

    def __init__(self, master: tuple[str, int], chan: str) -> None:
        self.master, self.chan = master, chan
        self.client: Any = None

    def connect(self, counters: Any) -> Any:
        from host_tools.simclock.client import SimClient

        self.client = SimClient(self.master, f"{self.chan}.vboard", counters)
        return self.client

    def now(self) -> float:
        return float(self.client.now()) if self.client is not None else 0.0

    def triple(self) -> str:
        return f"sim:{self.master[0]}:{self.master[1]}:{self.chan}"


def parse_clock(text: str | None) -> VirtualClock | SimHostClock:
    """Parse ``WALL_START,EPOCH,SCALE`` or ``sim:HOST:PORT:CHAN``; None starts a clock now at
    scale 1."""
    if text is not None and text.startswith("sim:"):
        from host_tools.simclock.client import parse_spec

        addr, chan = parse_spec(text)
        return SimHostClock(addr, chan)
    if text is None:
        now = time.time()
        return VirtualClock(now, float(int(now)), 1.0)
    try:
        wall, epoch, scale = (float(x) for x in text.split(","))
    except ValueError as exc:
        raise CommandError(
            f"--clock {text!r}: expected WALL_START,EPOCH,SCALE (three numbers)"
        ) from exc
    check_shared_scale(text, scale)
    return VirtualClock(wall, epoch, scale)


@dataclass
class PinState:
    """A pin's level and its cumulative edge counters (kept while the board is off)."""

    value: int = 1
    falling: int = 0
    rising: int = 0

    def line(self, name: str) -> str:
        """The `pin` datagram for this pin."""
        return f"pin {name} {self.value} {self.falling} {self.rising}"


@dataclass
class Options:
    """Everything one virtual board needs."""

    board: dict[str, Any]
    flash: Path
    flash_size: int
    modem_port: str | None
    clock: VirtualClock | SimHostClock
    main: Path | None = None
    app: Path = FIRMWARE_DIR
    rom: Path | None = None  # the ROM image of app, built beforehand (None: built at start)
    seed_config: Path | None = None
    seed_path: str = "config.json"
    heap: str = "128K"
    heap_watch: bool = False  # print the peak live heap of each wake (nbkit.hal.heapwatch)
    console_pty: bool = False
    # under a time master: console input comes from a participant that counts what it types
    # (CHAN.con, a test): time waits for it, so it does not pace the board (--console-counted)
    console_counted: bool = False
    control_port: int = 0
    cut_at_write: int = 0
    torn: bool = False
    meterbus_port: str | None = None
    pin_levels: dict[str, int] = field(default_factory=dict)  # levels at power-up (--pin)


def ensure_flash(path: Path, size: int) -> None:
    """Create a blank (erased, 0xFF) flash image if missing; check an existing one's size."""
    if size % BLOCK_SIZE or size < 8 * BLOCK_SIZE:
        raise CommandError(f"--flash-size must be a multiple of {BLOCK_SIZE} and >= 32768")
    if path.exists():
        have = path.stat().st_size
        if have % BLOCK_SIZE or have < 8 * BLOCK_SIZE:
            raise CommandError(f"{path}: {have} bytes is not a flash image of 4096-byte blocks")
        _check_private_writable(path)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(
            f"--flash {path}: cannot make its folder {path.parent} ({exc.strerror}) - give a "
            "path in a writable folder"
        ) from exc
    write_private(path, b"\xff" * size)  # the board will keep its key in it: owner only


def _check_private_writable(path: Path) -> None:
    """The board writes its flash image and keeps its key in it: writable, owner only."""
    mode = stat.S_IMODE(path.stat().st_mode)
    # checked by mode bits, not access(): root may write anything, the board must not
    if not mode & stat.S_IWUSR or not os.access(path, os.W_OK):
        raise CommandError(
            f"--flash {path}: the image is read-only (mode {mode:04o}); the board writes its "
            f"flash - `chmod u+w {path}` or give another image"
        )
    if mode & 0o077:
        os.chmod(path, mode & 0o700)
        log(f"{path} was readable by others (mode {mode:04o}): now {mode & 0o700:04o}")


def send_control(port: int, command: str, timeout: float = 2.0) -> str:
    """Send one control command to a running vboard on 127.0.0.1:port; return its reply."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(command.encode(), ("127.0.0.1", port))
        try:
            return sock.recv(65536).decode()
        except TimeoutError as exc:
            raise CommandError(f"no vboard answers on udp 127.0.0.1:{port}") from exc


def uart_line_discipline(fd: int) -> None:
    """Raw 8-bit, no echo, no output translation; only Ctrl-C signals (KeyboardInterrupt)."""
    attrs = termios.tcgetattr(fd)
    attrs[0] &= ~(termios.BRKINT | termios.ICRNL | termios.INPCK | termios.ISTRIP | termios.IXON)
    attrs[1] &= ~termios.OPOST
    attrs[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN)
    # a Ctrl-C raises KeyboardInterrupt and loses nothing: a board's UART IRQ takes the byte out
    # and keeps the rest; a tty's default would flush both queues (NOFLSH keeps them)
    attrs[3] |= termios.ISIG | termios.NOFLSH
    attrs[6][termios.VMIN] = 1
    attrs[6][termios.VTIME] = 0
    attrs[6][termios.VINTR] = 3
    # Ctrl-\\ and Ctrl-Z are plain bytes on a UART: no SIGQUIT (a "power cut") or SIGTSTP
    attrs[6][termios.VQUIT] = 0  # _POSIX_VDISABLE on Linux
    attrs[6][termios.VSUSP] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


def log(text: str) -> None:
    """One line about the board on stderr."""
    print(f"vboard: {text}", file=sys.stderr, flush=True)


STOP = [False]
WAKEUP: list[int] = []


def drain_wakeup() -> None:
    try:
        while os.read(WAKEUP[0], 512):
            pass
    except (BlockingIOError, OSError):
        pass


def install_signals() -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    WAKEUP[:] = [r, w]
    signal.set_wakeup_fd(w)

    def stop(_signum: int, _frame: object) -> None:
        STOP[0] = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGCHLD, lambda _s, _f: None)


class CookedOutput:
    """A bare-metal port's console output: LF -> CRLF, as ``mp_hal_stdout_tx_strn_cooked``
    does; the unix port leaves that to the terminal. The REPL's own CRLF stays as it is. After
    ``BINARY_START`` (mpremote's mount protocol) output passes as sent until ``binary`` is
    cleared at the next boot."""

    def __init__(self) -> None:
        self.last_cr = False  # the last console byte was CR
        self.binary = False

    def cook(self, data: bytes) -> bytes:
        """The bytes the console sends for ``data`` from the MicroPython process."""
        if self.binary:
            return data
        cut = data.find(BINARY_START)
        if cut >= 0:
            self.binary = True
            return self.cook(data[:cut]) + data[cut:]
        head = b""
        if self.last_cr and data.startswith(b"\n"):
            head, data = b"\n", data[1:]  # the CR of this CRLF came at the end of the last read
        out = head + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if out:
            self.last_cr = out.endswith(b"\r")
        return out
