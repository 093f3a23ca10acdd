"""The host process of one virtual board: MicroPython process, console relay, pins, power
(what the board is and the control protocol: host_tools/vboard/command.py)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import socket
import tempfile
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_tools.device import boards
from host_tools.vboard import rom
from host_tools.vboard.mpy import micropython_argv, micropython_binary
from host_tools.vboard.parts import (
    BLOCK_SIZE,
    BOOT_CODE,
    EXIT_KEY,
    FRIENDLY_MARK,
    IN_LIMIT,
    MAX_PULSES,
    OUT_LIMIT,
    RAW_BANNER,
    SOFT_REBOOT,
    STOP,
    UNIX_BANNER,
    WAKEUP,
    CookedOutput,
    Options,
    PinState,
    SimHostClock,
    drain_wakeup,
    log,
    uart_line_discipline,
)
from host_tools.vboard.zygote import Zygote

#: what the MicroPython process itself sends on the control channel (the rest is the rig's)
_BOARD_VERBS = {"hello", "deepsleep", "powerfail", "reset", "wdt", "cut-ready", "ctrl-c"}


@dataclass
class _Child:
    pid: int
    fd: int
    killed_by_host: str | None = None  # why the host killed it: "power", "stop"
    filter_banner: bool = False  # strip the unix REPL banner until the raw banner shows
    pending: bytearray = field(default_factory=bytearray)


class VBoard:
    """The host side of one virtual board: console relay, pins, power, clock."""

    def __init__(self, opts: Options, console_in: int, console_out: int) -> None:
        self.o = opts
        self.cin, self.cout = console_in, console_out
        self.pins = {name: PinState(opts.pin_levels.get(name, 1)) for name in opts.board["pins"]}
        self.child: _Child | None = None
        self.state = "off"  # running | sleeping | off
        self.raw_mode = False
        self.boots = 0
        self.last_boot: dict[str, str | None] = {"cause": None, "wake": None}
        self.wake_at: float | None = None
        self.wdt_at: float | None = None  # virtual time the board's watchdog bites unless fed
        self.wake_pins: dict[str, int] = {}
        self.child_addr: tuple[str, int] | None = None
        self.schedule: list[tuple[float, str, int]] = []  # (wall time, pin, value)
        self._batch: list[str] | None = None  # edges of one instant, sent together
        self._deferred: list[tuple[bytes, Any]] = []  # control commands kept by _drop_stale
        self.out_buf = bytearray()
        self.in_buf = bytearray()
        self.ctrl_c_at = float("-inf")  # wall time a Ctrl-C last reached the board as SIGINT
        self.dropped = 0
        self.tail = b""
        self.cooked = CookedOutput()  # console output as a bare-metal port sends it (CRLF)
        self.stop = False
        self.cut_next: tuple[int, bool] | None = (
            (opts.cut_at_write, opts.torn) if opts.cut_at_write else None
        )
        self.cut_armed: tuple[int, bool] | None = None
        self.cuts: list[int] = []  # flash write index of every power cut the board reported
        self.failure: str | None = None
        self.cin_open = True
        self.tmp = tempfile.TemporaryDirectory(prefix="nbkit-vboard-")
        self._flash_abs = str(opts.flash.resolve())
        self._env_base: dict[str, str] | None = None  # (_child_env)
        self._runtime_base: dict[str, Any] | None = None  # (_write_runtime)
        self.runtime = Path(self.tmp.name) / "board.json"
        # the --app tree as the board's ROM, mapped by each MicroPython process it starts
        self.rom = opts.rom or Path(self.tmp.name) / "rom.img"
        if opts.rom is None:
            rom.build_image(opts.app, self.rom)
        # each boot is forked from a server that has CPython, the unix port and the ROM loaded
        # (host_tools/vboard/zygote_server.py); None: a `micropython` binary, exec'd per boot
        self.zygote: Zygote | None = None
        self.zygote = Zygote.start(self._child_env())
        self.ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.ctl.bind(("127.0.0.1", opts.control_port))
        self.ctl.setblocking(False)
        # under the rig's time master: the participant, its counters, and the board UARTs the
        # host drains while no MicroPython process holds them (a UART of an unpowered MCU)
        self.sim: Any = None
        self.counts: dict[str, int] = {}
        self.console_seen = 0.0  # wall time of the last console input (paced while recent)
        self.drains: dict[int, str] = {}  # fd -> counter key
        if isinstance(opts.clock, SimHostClock):
            self._start_sim(opts.clock)

    def _start_sim(self, clock: SimHostClock) -> None:
        self.sim = clock.connect(lambda: self.counts)
        for path, what in ((self.o.modem_port, "uart"), (self.o.meterbus_port, "bus")):
            if path:
                fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
                self.drains[fd] = f"{clock.chan}.{what}.dn<"
                self.counts[self.drains[fd]] = 0  # declared: bytes to the board are awaited
        self.counts[self._cmd_key()] = 0
        if self.o.console_counted:  # (a counter only when someone counts what they type)
            self.counts[self._con_key()] = 0

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def _ctl_key(self, way: str) -> str:
        """The per-boot control channel counter key (``CHAN.ctl.bN.up<`` / ``.dn>``)."""
        assert isinstance(self.o.clock, SimHostClock)
        return f"{self.o.clock.chan}.ctl.b{self.boots}.{way}"

    def _cmd_key(self) -> str:
        """Control commands from the rig (``CHAN.cmd``): counted so that time waits until
        the host has done what one asked (set a pin, cut the power) and said so."""
        assert isinstance(self.o.clock, SimHostClock)
        return f"{self.o.clock.chan}.cmd<"

    def _con_key(self) -> str:
        """Console input (``CHAN.con``): a sender that counts what it types (a test driving the
        board) holds time until the host has taken it; a person or mpremote, who count
        nothing, never hold time back."""
        assert isinstance(self.o.clock, SimHostClock)
        return f"{self.o.clock.chan}.con<"

    def _child_name(self) -> str:
        assert isinstance(self.o.clock, SimHostClock)
        return f"{self.o.clock.chan}.b{self.boots}"

    def _gone(self) -> None:
        """The MicroPython process is gone: its participant and its boot's channels too."""
        if self.sim is None:
            return
        prefix = self._ctl_key("")
        self.sim.bye(self._child_name())
        self.sim.drop(prefix)
        for key in [k for k in self.counts if k.startswith(prefix)]:
            del self.counts[key]
        self._drain_uarts()

    def _drain_uarts(self) -> None:
        """Read what reached the board's UARTs while no MCU listens (lost, as on a board)."""
        for fd, key in self.drains.items():
            while True:
                try:
                    data = os.read(fd, 4096)
                except (BlockingIOError, OSError):
                    break
                if not data:
                    break
                self._count(key, len(data))

    def _clock_rt(self) -> Any:
        clock = self.o.clock
        if isinstance(clock, SimHostClock):
            wake = self.o.board.get("power", {}).get("mcu_wake", {}).get("s", 0.0)
            return {
                "master": list(clock.master),
                "name": self._child_name(),
                "chan": clock.chan,
                "wake_ms": int(round(float(wake) * 1000)),
            }
        return [clock.wall_start, clock.epoch, clock.scale]

    @property
    def control_port(self) -> int:
        """The UDP port of the control channel on 127.0.0.1."""
        return int(self.ctl.getsockname()[1])

    # ---- the MicroPython process -------------------------------------------------------------

    def _write_runtime(self, mode: str, cause: str, wake: str | None) -> None:
        if self._runtime_base is None:  # what no boot changes, worked out once
            self._runtime_base = {
                "flash": self._flash_abs,
                "block_size": BLOCK_SIZE,
                "modem_port": self.o.modem_port,
                "meterbus_port": self.o.meterbus_port,
                "control": ["127.0.0.1", self.control_port],
                "app": str(self.o.app.resolve()),
                "main": str(self.o.main.resolve()) if self.o.main else None,
                "seed_config": str(self.o.seed_config.resolve()) if self.o.seed_config else None,
                "seed_path": self.o.seed_path,
                "heap_watch": self.o.heap_watch,
            }
        rt = {
            **self._runtime_base,
            "block_count": self.o.flash.stat().st_size // BLOCK_SIZE,
            "clock": self._clock_rt(),
            "mode": mode,
            "reset_cause": cause,
            "wake_reason": wake,
            "boot": self.boots,
            "cut_at_write": self.cut_armed,
        }
        device_board = boards.device_data(self.o.board)  # host-only sections stay here
        self.runtime.write_text(json.dumps({**device_board, "vboard": rt}))

    def spawn(
        self, mode: str = "normal", cause: str = "power_on", wake: str | None = None
    ) -> None:
        """Boot a MicroPython process (`raw`: straight into the raw REPL, main.py skipped)."""
        self.boots += 1
        self.last_boot = {"cause": cause, "wake": wake}
        self.cut_armed, self.cut_next = self.cut_next, None
        self._write_runtime(mode, cause, wake)
        if self.sim is not None:
            self._drain_uarts()  # what reached the UARTs while off is lost (and counted)
            self.sim.join(self._child_name())  # busy until its first report: time waits
            self.counts[self._ctl_key("up<")] = 0
        args = ["-X", f"heapsize={self.o.heap}", "-i", "-c", BOOT_CODE]
        env = self._child_env()
        fd, slave = pty.openpty()
        uart_line_discipline(slave)  # set before anything is written to it: no echo, ever
        if self.zygote is not None:
            pid = self.zygote.spawn(args, env, slave)
        else:
            pid = self._fork_exec([*micropython_argv(), *args], env, fd, slave)
        os.close(slave)
        os.set_blocking(fd, False)
        self.wdt_at = None  # a reset stops the watchdog; the firmware starts it again
        self.child = _Child(pid, fd, filter_banner=mode == "raw")
        self.cooked.binary = False  # binary output (mpremote mount) ends with the boot
        self.child_addr = None
        self.state = "running"
        self.raw_mode = mode == "raw"
        self.in_buf.clear()
        if mode == "raw":
            self.in_buf += b"\x01"  # queued: the REPL reads it as soon as it starts
        log(f"boot {self.boots} ({cause}{', ' + wake if wake else ''}) pid {pid} mode {mode}")

    def _child_env(self) -> dict[str, str]:
        if self._env_base is None:  # this process's environment, read once
            env = dict(
                os.environ,
                MICROPYPATH=f".frozen:/.frozen:{self.o.app.resolve()}",
                NBKIT_VBOARD=str(self.runtime),
                NBKIT_ROM_IMAGE=str(self.rom),
            )
            # mappings are the launcher's to make (host_tools.vboard.mpy, zygote_server): an
            # address inherited from this process's environment would point at nothing
            for made in ("NBKIT_ROM", "NBKIT_FLASH"):
                env.pop(made, None)
            self._env_base = env
        env = dict(self._env_base)
        if self.zygote is not None:  # it maps the flash image (again when the file changes)
            env["NBKIT_FLASH_IMAGE"] = self._flash_abs
        return env

    @staticmethod
    def _fork_exec(argv: list[str], env: dict[str, str], fd: int, slave: int) -> int:
        pid = os.fork()
        if pid == 0:  # the child: its own session with the pty as controlling terminal
            try:
                os.close(fd)
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for std in (0, 1, 2):
                    os.dup2(slave, std)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        return pid

    def kill_child(self, why: str) -> None:
        """SIGKILL the MicroPython process (a power cut) and reap it."""
        child = self.child
        if child is None:
            return
        child.killed_by_host = why
        try:
            os.kill(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._reap(block=True)
        self._drop_stale()

    def _drop_stale(self) -> None:
        """The board is dead: what it sent that is still queued (a deep sleep it asked for
        just before a power cycle came) must not act on its next boot. Its messages are
        dropped (counted for the master under its boot); the others are kept, in order, for
        :meth:`_on_control`."""
        while True:
            try:
                data, addr = self.ctl.recvfrom(512)
            except BlockingIOError:
                return
            text = data.decode("ascii", "replace").strip()
            if addr == self.child_addr or text.split(" ", 1)[0] in _BOARD_VERBS:
                if self.sim is not None:
                    self._count(self._ctl_key("up<"))
                log(f"ignored {text[:40]!r}: the board sent it before its power was cut")
            else:
                self._deferred.append((data, addr))

    def _reap(self, block: bool = False) -> None:
        child = self.child
        if child is None:
            return
        if self.zygote is not None:
            ended = self.zygote.status(child.pid, block)
            if ended is None:
                return
            status = ended
        else:
            try:
                pid, status = os.waitpid(child.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                pid, status = child.pid, 0
            if pid == 0:
                return
        self._drain_child()
        if child.pending:
            self._emit(bytes(child.pending))
        os.close(child.fd)
        self.child = None
        self.state = "off"
        self._gone()
        self._after_exit(child, status)

    def _after_exit(self, child: _Child, status: int) -> None:
        if child.killed_by_host is not None or self.stop:
            return  # the host decides what happens next (sleep, power off, restart)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 127:
            self.failure = f"could not start {micropython_binary()} (exit code 127)"
            self.stop = True
            return
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            log(f"power cut (signal {sig}): booting again")
            self.spawn("normal", "power_on" if sig == signal.SIGKILL else "hard")
            return
        self._emit(SOFT_REBOOT)  # the unix REPL exits on Ctrl-D: a board soft-resets
        self.spawn("raw" if self.raw_mode else "normal", "soft")

    def _drain_child(self) -> None:
        child = self.child
        if child is None:
            return
        while True:
            try:
                data = os.read(child.fd, 65536)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self._from_child(data)

    def _from_child(self, data: bytes) -> None:
        child = self.child
        data = self.cooked.cook(data)
        scan = self.tail + data
        raw_at, friendly_at = scan.rfind(RAW_BANNER), scan.rfind(FRIENDLY_MARK)
        if raw_at >= 0 or friendly_at >= 0:
            self.raw_mode = raw_at > friendly_at
        self.tail = scan[-64:]
        if child is not None and child.filter_banner:
            child.pending += data
            if RAW_BANNER not in child.pending and len(child.pending) < IN_LIMIT:
                return
            data = UNIX_BANNER.sub(b"", bytes(child.pending), count=1)
            child.pending.clear()
            child.filter_banner = False
        self._emit(data)

    def _emit(self, data: bytes) -> None:
        self.out_buf += data
        if len(self.out_buf) > OUT_LIMIT:
            extra = len(self.out_buf) - OUT_LIMIT
            del self.out_buf[:extra]
            self.dropped += extra

    # ---- power ------------------------------------------------------------------------------

    def _quiesce(self) -> None:
        """Under the time master, before the host cuts the power on its own: ask the board to
        report what it has read (``cut`` on the control channel; it answers ``cut-ready`` at
        its next wait, the same device instant), so no byte it took goes uncounted. A board
        that does not answer within 3 wall seconds (at a REPL prompt: it reads nothing)
        is cut all the same."""
        if self.sim is None or self.child is None or self.child_addr is None:
            return
        self.ctl.sendto(b"cut", self.child_addr)
        self._count(self._ctl_key("dn>"))
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            ready, _, _ = select.select([self.ctl], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                break
            try:
                data, addr = self.ctl.recvfrom(512)
            except BlockingIOError:
                continue
            if addr != self.child_addr:
                continue  # nobody else talks while the rig waits for this command's answer
            self._count(self._ctl_key("up<"))
            if data.split(b" ", 1)[0] in (b"cut-ready", b"deepsleep", b"powerfail", b"reset"):
                return  # it reported its counters before sending this
        log("the board did not answer the power cut within 3 s: cut anyway")

    def power(self, what: str) -> None:
        """off: cut the power; on: power up if off or asleep; cycle: both."""
        if what in ("off", "cycle"):
            self._quiesce()
            self.kill_child("power")
            self.state, self.wake_at = "off", None
        if what in ("on", "cycle") and self.child is None:
            self.wake_at = None
            self.spawn("normal", "power_on")

    def _note_ctrl_c(self, fd: int) -> None:
        # a Ctrl-C about to reach the board that its line discipline turns into SIGINT
        if b"\x03" not in self.in_buf[:4096]:
            return
        try:
            isig = termios.tcgetattr(fd)[3] & termios.ISIG
        except termios.error:
            return
        if isig:
            self.ctrl_c_at = time.monotonic()

    def _broken_in(self) -> bool:
        """A Ctrl-C reached the board just before it asked for deep sleep. On a board the UART
        IRQ comes first and the KeyboardInterrupt wins; here it may land in the deep-sleep call
        itself, after the request was sent. Wait (wall time, at most 0.3 s) for its traceback:
        then the board stays awake at its REPL instead of sleeping with the interrupt lost."""
        child = self.child
        if child is None or time.monotonic() - self.ctrl_c_at > 0.5:
            return False
        seen, end = bytearray(self.tail), time.monotonic() + 0.3
        while b"KeyboardInterrupt" not in seen:
            left = end - time.monotonic()
            if left <= 0 or not select.select([child.fd], [], [], left)[0]:
                return False
            try:
                data = os.read(child.fd, 65536)
            except (BlockingIOError, OSError):
                return False
            if not data:
                return False
            seen += data
            self._from_child(data)
        return True

    def _deepsleep(self, ms: int, wake_pins: dict[str, int]) -> None:
        self.kill_child("power")
        self.state = "sleeping"
        self.wake_at = self.o.clock.now() + ms / 1000
        self.wake_pins = wake_pins
        log(f"deep sleep {ms} ms (virtual), wake pins {wake_pins or '-'}")
        for name in wake_pins:  # level-triggered: a pin already at its level wakes at once
            if self._at_wake_level(name):
                self._wake(name)
                return

    def _at_wake_level(self, name: str) -> bool:
        """A wake pin's condition: level 0/1 on a digital pin; level > 1 is an analog
        comparator threshold (the pin's value reaching it), as a smoke AFE raises its IRQ."""
        level, value = self.wake_pins[name], self.pins[name].value
        return value >= level if level > 1 else (1 if value else 0) == level

    def _wake(self, reason: str) -> None:
        self.wake_at = None
        self.wake_pins = {}
        self.spawn("normal", "deepsleep", reason)

    # ---- pins -------------------------------------------------------------------------------

    def set_pin(self, name: str, value: int) -> None:
        """Drive a pin; count its edges; tell the board; wake it if it sleeps on this pin."""
        pin = self.pins[name]
        if value == pin.value:
            return
        if pin.value and not value:
            pin.falling += 1
        elif value and not pin.value:
            pin.rising += 1
        pin.value = value
        self._to_board(pin.line(name))
        if self.state == "sleeping" and name in self.wake_pins and self._at_wake_level(name):
            self._wake(name)

    def _to_board(self, line: str) -> None:
        if self._batch is not None:
            self._batch.append(line)  # sent with the other edges of this instant
            return
        if self.child_addr is not None and self.child is not None:
            try:
                self.ctl.sendto(line.encode(), self.child_addr)
                if self.sim is not None:
                    self._count(self._ctl_key("dn>"))
            except OSError:
                pass  # the board's socket is full: it misses the edge, the counters stay exact

    def pulse(self, name: str, count: int, period_ms: float) -> None:
        """Queue `count` pulses (level 0 for half a period, then back to 1)."""
        start = self.schedule[-1][0] if self.schedule else self.o.clock.now()
        half = period_ms / 2 / 1000
        for i in range(count):
            self.schedule.append((self._edge_time(start + (2 * i) * half), name, 0))
            self.schedule.append((self._edge_time(start + (2 * i + 1) * half), name, 1))

    def _edge_time(self, t: float) -> float:
        """Under the time master a pin edge lands 300 us into its millisecond: never at the
        instant of a firmware timeout (whole ms) or a modem byte (500 us), so no two causes
        meet at one instant and their order cannot depend on the host."""
        if self.sim is None:
            return t
        ms = int(t * 1000)
        return (ms * 1000 + 300) / 1_000_000

    def _run_schedule(self) -> None:
        """Play the edges that are due, all in one datagram to the board: a board that takes
        the first would otherwise find the rest there or not, as the host's speed has it."""
        now = self.o.clock.now()
        if not self.schedule or self.schedule[0][0] > now:
            return  # (every turn of the loop asks: nothing due is the common case)
        done = 0
        self._batch = []
        try:
            for when, name, value in self.schedule:
                if when > now:
                    break
                self.set_pin(name, value)
                done += 1
        finally:
            lines, self._batch = self._batch, None
            if lines:
                self._to_board("\n".join(lines))
        del self.schedule[:done]

    # ---- control channel --------------------------------------------------------------------

    def _on_control(self) -> None:
        while True:
            if self._deferred:  # came while a dead board's messages were dropped
                data, addr = self._deferred.pop(0)
            else:
                try:
                    data, addr = self.ctl.recvfrom(512)
                except BlockingIOError:
                    return
            text = data.decode("ascii", "replace").strip()
            from_child = self.sim is not None and (
                addr == self.child_addr or text.split(" ", 1)[0] in _BOARD_VERBS
            )
            if from_child:
                self._count(self._ctl_key("up<"))
            elif self.sim is not None:
                self._count(self._cmd_key())  # a rig's command: time waits for its effects
            try:
                reply = self.command(text, addr)
            except (ValueError, KeyError, IndexError) as exc:
                reply = f"error {exc}"
            if reply is not None:
                self.ctl.sendto(reply.encode(), addr)
                if from_child and self.child is not None:
                    self._count(self._ctl_key("dn>"))

    def command(self, text: str, addr: tuple[str, int]) -> str | None:
        """Run one control command; return the reply (None: no reply)."""
        words = text.split()
        if not words:
            raise ValueError("empty command")
        cmd, args = words[0], words[1:]
        self._run_schedule()  # the edges due by now, before anything reads or moves a pin
        if cmd == "hello":  # the board registers; it gets every pin's state in one datagram
            self.child_addr = addr
            return "\n".join(pin.line(name) for name, pin in self.pins.items())
        if cmd == "deepsleep":
            wake = {}
            for item in args[1:]:
                pin_name, _, level = item.partition("=")
                wake[self._pin_name(pin_name)] = int(level)
            if self._broken_in():
                log("a Ctrl-C met the deep sleep: the board stays awake at its REPL")
                return None
            self._deepsleep(int(args[0]), wake)
            return None
        if cmd == "wdt":  # fed: bite after <ms> of virtual time (0: stopped)
            ms = int(args[0])
            self.wdt_at = self.o.clock.now() + ms / 1000 if ms > 0 else None
            return None
        if cmd == "powerfail":  # the board's flash reached the armed write: the power fails
            self.cuts.append(int(args[0]))
            self.kill_child("power")
            log(f"power cut at flash write {args[0]}: booting again")
            self.spawn("normal", "power_on")
            return None
        if cmd == "ctrl-c":  # it came while the flash was busy: typed again, ahead of the rest
            self.in_buf[:0] = b"\x03"
            return None
        if cmd == "reset":
            self.kill_child("power")
            if args and args[0] == "soft":
                self._emit(SOFT_REBOOT)
            self.spawn("normal", "soft" if args and args[0] == "soft" else "hard")
            return None
        return self._user_command(cmd, args)

    def _pin_name(self, name: str) -> str:
        if name not in self.pins:
            raise KeyError(f"unknown pin '{name}'; pins: {', '.join(self.pins)}")
        return name

    def _user_command(self, cmd: str, args: list[str]) -> str:
        if cmd == "pulse":
            name, count = self._pin_name(args[0]), int(args[1])
            period = float(args[2]) if len(args) > 2 else 0.0
            if not 0 < count <= MAX_PULSES or period < 0:
                raise ValueError(f"pulse count must be 1..{MAX_PULSES} and period_ms >= 0")
            if len(self.schedule) + 2 * count > 2 * MAX_PULSES:
                raise ValueError("too many pulses queued; wait for them to play out")
            self.pulse(name, count, period)
            self._run_schedule()
            return "ok"
        if cmd == "set":
            value = int(args[1])
            if not 0 <= value <= 65535:
                raise ValueError("value must be 0..65535")
            self.set_pin(self._pin_name(args[0]), value)
            return "ok"
        if cmd == "get":
            name = self._pin_name(args[0])
            return self.pins[name].line(name)
        if cmd == "wake":
            if self.state == "sleeping":
                self._wake("host")
            return "ok"
        if cmd in ("cut", "arm"):
            index = int(args[0])
            torn = args[1:] == ["torn"]
            if index < 1 or args[1:] not in ([], ["torn"]):
                raise ValueError(f"usage: {cmd} N [torn] with N >= 1")
            self.cut_next = (index, torn)
            if cmd == "cut":
                self.power("cycle")
            return "ok"
        if cmd == "power" and args and args[0] in ("off", "on", "cycle"):
            self.power(args[0])
            return "ok"
        if cmd == "status":
            return json.dumps(self.status())
        raise ValueError(
            f"unknown command {cmd!r}; commands: pulse, set, get, wake, power off|on|cycle, "
            "cut, arm, status"
        )

    def status(self) -> dict[str, Any]:
        """The board's state as the `status` command reports it."""
        return {
            "state": self.state,
            "pid": self.child.pid if self.child else None,
            "boots": self.boots,
            "last_boot": self.last_boot,
            "mode": "raw" if self.raw_mode else "normal",
            "virtual_s": self.o.clock.now(),
            "pins": {n: vars(p) for n, p in self.pins.items()},
            "pending_pulses": len(self.schedule) // 2,
            "cut_armed": self.cut_armed,
            "cuts": self.cuts,
            "console_dropped": self.dropped,
        }

    # ---- the loop ---------------------------------------------------------------------------

    def _on_console(self) -> None:
        try:
            data = os.read(self.cin, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data and not self.o.console_pty:
            self.cin_open = False  # stdin closed (e.g. </dev/null in CI): the board runs on
            return
        if not self.o.console_pty and EXIT_KEY in data and os.isatty(self.cin):
            self.stop = True
            return
        self.console_seen = time.monotonic()
        if self.sim is not None and self.o.console_counted:
            self._count(self._con_key(), len(data))
        if self.child is None:
            return  # the board is off or asleep: a UART drops what it cannot receive
        self.in_buf += data
        if len(self.in_buf) > IN_LIMIT:
            del self.in_buf[: len(self.in_buf) - IN_LIMIT]

    def _flush(self, fd: int, buf: bytearray) -> None:
        try:
            n = os.write(fd, buf[:4096])  # at most one pipe page: never blocks after select
        except (BlockingIOError, OSError):
            return
        del buf[:n]

    def _next_deadline(self) -> float | None:
        """Virtual time of the host's next timer (a pin edge, the end of a deep sleep, the
        watchdog's bite)."""
        first = self._next_edge()
        soon = [t for t in (first, self.wake_at, self.wdt_at)]
        due = [t for t in soon if t is not None]
        return min(due) if due else None

    def _next_edge(self) -> float | None:
        """The next scheduled pin edge that needs an instant of its own: any while the board
        runs (its pin IRQ); while it sleeps or is off, only an edge of a wake pin. The others
        are applied at the host's next action, before anything can see them (the boot's
        `hello`, a command): the counters are cumulative, as a hardware pulse counter's, and
        a water meter's day is 8,640 pulse edges the master need not step through."""
        if not self.schedule:
            return None
        if self.child is not None:
            return self.schedule[0][0]
        if not self.wake_pins:
            return None
        return next((t for t, name, _ in self.schedule if name in self.wake_pins), None)

    def _timeout(self) -> float:
        clock = self.o.clock
        due = self._next_deadline()
        if isinstance(clock, SimHostClock) or due is None:
            return 0.05
        return max(0.0, min(0.05, (due - clock.now()) / clock.scale))

    def _paced(self) -> bool:
        """Someone is at the console of an awake board (input in the last 3 wall seconds):
        time runs at wall speed, so a person (or mpremote) meets the board's service window
        as on a real one; a sleeping board's wake-up timer is not paced."""
        if self.o.console_counted:
            return False  # the typist is a participant: time waits for its bytes instead
        return self.child is not None and time.monotonic() - self.console_seen < 3.0

    def step(self) -> None:
        """One turn of the loop: wait for I/O or a timer, then serve it."""
        rd = [self.ctl.fileno(), WAKEUP[0]] + ([self.cin] if self.cin_open else [])
        wr = [self.cout] if self.out_buf else []
        if self.child is not None:
            rd.append(self.child.fd)
            if self.in_buf:
                wr.append(self.child.fd)
            if self.zygote is not None:
                rd.append(self.zygote.fileno())  # the board process's end: not input
        elif self.sim is not None:
            rd += list(self.drains)
        if self.sim is not None:
            rd.append(self.sim.fileno())
            readable, writable, _ = select.select(rd, wr, [], 0)
            if not readable and not writable:
                self.sim.report(self._next_deadline(), self._paced())
                readable, writable, _ = select.select(rd, wr, [], 0.5)
            if self.sim.fileno() in readable:
                self._on_master()
            not_input = (self.sim.fileno(), self.zygote.fileno() if self.zygote else -1)
            if any(fd not in not_input for fd in readable):
                self.sim.go()  # a peer's input: at the current time (simclock.client.go)
            if self.child is None and any(fd in readable for fd in self.drains):
                self._drain_uarts()
        else:
            readable, writable, _ = select.select(rd, wr, [], self._timeout())
        if WAKEUP[0] in readable:
            drain_wakeup()
        if self.cin in readable:
            self._on_console()
        if self.ctl.fileno() in readable or self._deferred:
            self._on_control()
        if self.child is not None and self.child.fd in readable:
            self._drain_child()
        if self.child is not None and self.child.fd in writable:
            self._note_ctrl_c(self.child.fd)
            self._flush(self.child.fd, self.in_buf)
        if self.cout in writable:
            self._flush(self.cout, self.out_buf)
        self._run_schedule()
        if (
            self.state == "sleeping"
            and self.wake_at is not None
            and self.o.clock.now() >= self.wake_at
        ):
            self._wake("timer")
        if (
            self.child is not None
            and self.wdt_at is not None
            and self.o.clock.now() >= self.wdt_at
        ):
            log("watchdog: not fed in time, resetting the board")
            self.kill_child("power")
            self.spawn("normal", "watchdog")
        self._reap()

    def _on_master(self) -> None:
        from host_tools.simclock.client import SimFailed

        try:
            self.sim.on_readable()
        except SimFailed as exc:
            self.failure = str(exc)
            self.stop = True

    def run(self) -> None:
        """Power on and serve until SIGINT/SIGTERM (or Ctrl-] on a terminal console)."""
        self.spawn("normal", "power_on")
        while not self.stop and not STOP[0]:
            self.step()
        self.stop = True
        self.kill_child("stop")
        if self.out_buf:
            self._flush(self.cout, self.out_buf)
        if self.sim is not None:
            self.sim.close()
        self.ctl.close()
        if self.zygote is not None:
            self.zygote.close()
        self.tmp.cleanup()
