"""The virtual rig: collector + modem emulator + virtual board, wired and started together.

Used by `nbkit demo`, the end-to-end tests and the HIL plugin's default target. Everything is
real: the collector is a UDP server on 127.0.0.1 with an SQLite file, the emulator serves a pty
and sends real datagrams, the virtual board runs `firmware/main.py` in the MicroPython unix port
on a littlefs image. Device and emulator share one virtual clock (docs/architecture.md).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbkit import profiles

from host_tools import BOARDS_DIR
from host_tools.errors import CommandError
from host_tools.files.private import write_private
from host_tools.vboard import rom

EPOCH = 1_764_000_000.0  # virtual time at the start of a rig run (2025-11-24 16:00 UTC)


@dataclass
class RigOptions:
    """What to run: the device's config and the virtual world around it."""

    #: "sim": one time master for the rig (host_tools.simclock; time moves only when every
    #: process waits: nothing depends on host speed; every transport, every profile);
    #: "real": wall time (a real modem on a USB-UART); "auto": real with a modem port, else sim
    clock: str = "auto"
    #: with clock "sim", more than 0: the rig is driven from outside in wall time (the HIL
    #: suite's tools at the board's console, `host_tools.hil`), so device time runs on by
    #: itself, at most `pace` device seconds per wall second (at wall speed while someone types
    #: at the console); host latency is still no device time (every process waits for the rest)
    pace: float = 0.0
    modem: str = "bc28"  # emulator persona; the virtual board's data names the same model
    transport: str = "udp"  # udp | tcp | mqtt | coap: how uplinks reach the collector
    device_id: int = 1042
    read_interval_s: int = 900
    report_interval_s: int = 14400
    emulator_args: list[str] = field(default_factory=list)
    #: the firmware's modem UART on this tty instead of the built-in emulator (a real BC95/BC28
    #: on a USB-UART, or another emulator); time is then real (clock "real")
    modem_port: str | None = None
    modem_baud: int | None = None
    vboard_args: list[str] = field(default_factory=list)
    #: what the device is (config `profile`): water | gas-cjt188 | electricity-dlt645 | heat-mbus
    #: | smoke
    profile: str = "water"
    #: extra `nbkit meterbus` options for the meter-bus profiles (e.g. ["--set", "total=1234"])
    meterbus_args: list[str] = field(default_factory=list)
    #: smoke profile: heartbeat interval (config heartbeat_s)
    heartbeat_s: int = 86400
    #: `nbkit build --profile` of the board's firmware: development keeps the REPL (deploy,
    #: mpremote); production locks the console (nbkit.app.lockdown)
    build_profile: str = "development"
    #: this meter's channel prefix on the time master (``m0``: ``m0.uart.up``, ``m0.modem`` ...);
    #: a fleet cell runs meters m0, m1 ... on one master (host_tools/fleet)
    chan: str = "m0"
    #: firmware already built for the board under this folder (a fleet cell builds it once for
    #: all its meters); default: built into the rig's workdir at start
    app_dir: str = ""


def meterbus_args(profile: str) -> list[str] | None:
    """The `nbkit meterbus` options of the meter a profile reads (None: no meter bus), from
    the profile registry (firmware/nbkit/profiles.py): protocol, CJ/T 188 meter type."""
    _, _, bus, medium, _ = profiles.get(profile)
    if bus is None:
        return None
    if bus == "mbus":  # a heat meter at primary address 5, read through 0xFE (the one slave)
        return ["--protocol", bus, "--meter-type", medium, "--address", "5"]
    return ["--protocol", bus] + (["--meter-type", medium] if bus == "cjt188" else [])


#: pin levels at power-up per profile: a clean smoke chamber, a full battery (mV on the
#: virtual board), the detector on its base (tamper switch pressed = 0), button released
PROFILE_PINS = {"smoke": {"smoke_adc": 8000, "battery_adc": 3600, "tamper": 0, "button": 1}}


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TRANSPORTS = ("udp", "tcp", "mqtt", "coap")


def _virtual_boards() -> dict[str, str]:
    """Modem model -> the unix-port board (boards/*.json) whose data names it: a new modem's
    virtual board is one data file, no code. The first by file name wins (unix_sim for bc28)."""
    out: dict[str, str] = {}
    for path in sorted(BOARDS_DIR.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            if data.get("port") == "unix":
                out.setdefault(data["modem"]["model"], path.stem)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a board this rig can run; `nbkit boards` names what is wrong
    return out


#: the virtual board whose data names each emulated modem model
BOARD_FOR_MODEM = _virtual_boards()


def _board_baud(modem: str) -> list[str]:
    """``--baud N`` of the modem UART in the virtual board's data (none when it names none)."""
    board = BOARD_FOR_MODEM.get(modem)
    try:
        baud = json.loads((BOARDS_DIR / f"{board}.json").read_text())["modem"]["uart"]["baud"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return ["--baud", str(baud)] if isinstance(baud, int) else []


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _nbkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "host_tools", *args]


def _read_first_lines(proc: subprocess.Popen[str], n: int, timeout: float, what: str) -> list[str]:
    """The first n stdout lines of a starting process (a reader thread, so no buffering trap)."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: list[str] = []

    def read() -> None:
        while len(lines) < n:
            line = stdout.readline()
            if not line:
                return
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if len(lines) < n:
        code = proc.poll()
        state = (
            f"exited at start (code {code})"
            if code is not None
            else (f"did not start within {timeout} s")
        )
        raise CommandError(f"{what} {state}")
    return lines


#: what a rig's run leaves in its workdir that its next start must not find
RUN_FILES = (
    "flash.img",
    "collector.db",
    "collector.db-wal",
    "collector.db-shm",
    "spy.jsonl",
    "timeline.jsonl",
)


class Rig:
    """A running collector, emulator and virtual board in ``workdir``; ``stop()`` ends them."""

    def __init__(
        self, workdir: Path, options: RigOptions | None = None, master: Any = None
    ) -> None:
        """``master``: a running time master this rig's processes join (a fleet cell's; the
        cell drives time and stops it); default: a master of its own (clock "sim")."""
        self.workdir = workdir
        self.opt = options or RigOptions()
        self.wall_start = time.time()
        self.clock_arg = f"{self.wall_start:.6f},{EPOCH:.0f},1"
        self.master: Any = None
        self.sim: Any = None
        self._own_master = False
        if self.opt.clock == "auto":  # a real modem cannot be simulated: wall time
            self.opt.clock = "real" if self.opt.modem_port else "sim"
        if self.opt.clock == "sim":
            from host_tools.simclock.client import SimClient
            from host_tools.simclock.master import Master

            self._own_master = master is None
            self.master = master or Master(EPOCH).start()
            if self._own_master:  # busy until run_until: time waits
                self.sim = SimClient(self.master.addr, "rig")
            self.clock_arg = f"sim:{self.master.addr[0]}:{self.master.addr[1]}:{self.opt.chan}"
        elif self.opt.clock != "real":
            raise CommandError(f"clock {self.opt.clock!r}: sim or real")
        if self.opt.modem_port and self.opt.clock == "sim":
            raise CommandError("a modem on --modem-port runs in real time: use --clock real")
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.uplinks: list[dict[str, Any]] = []
        self.console_lines: list[str] = []
        self.on_uplink: Callable[[dict[str, Any]], None] | None = None
        self.on_console: Callable[[str], None] | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Condition()
        self.console_path = ""
        self.control_addr: tuple[str, int] = ("127.0.0.1", 0)
        self.collector_port = 0
        self.server: tuple[str, int] = ("127.0.0.1", 0)  # what the device config points to
        self.broker: Any = None
        self._console_fd = -1
        self.meterbus_path = ""
        self.meterbus_control: tuple[str, int] | None = None

    # -- paths --------------------------------------------------------------------------

    def path(self, name: str) -> Path:
        return self.workdir / name

    # -- start --------------------------------------------------------------------------

    def start(self) -> Rig:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._forget_last_run()
        self.collector_port = free_udp_port()
        self._start_broker()
        self._provision()
        self._start_collector()
        modem_port = self.opt.modem_port or self._start_emulator()
        if not os.path.exists(modem_port):
            raise CommandError(f"--modem-port {modem_port}: no such device")
        self._start_meterbus()
        self._start_vboard(modem_port)
        self._wait_paced()
        return self

    def _wait_paced(self) -> None:
        """RigOptions.pace: the rig waits for input from outside it, with no deadline, so
        the master moves time at that pace while every process waits (protocol MODE ``pN``).
        Its report stands until a control command changes its counters."""
        if self.opt.pace and self.sim is not None:
            self.sim.report(None, paced=self.opt.pace)

    def _forget_last_run(self) -> None:
        """A rig provisions a new key and a new collector port each time, so a board flash or a
        collector database an earlier run left in the same workdir (`--workdir`) would be
        another device's: its stored config sends to a port nobody listens on and every report
        ends unanswered. Those files go; the others are written anew."""
        for name in RUN_FILES:
            self.path(name).unlink(missing_ok=True)

    def _provision(self) -> None:
        """The documented key flow (docs/keys.md): `keys new_key`, then the intervals."""
        from nbkit.store import config

        from host_tools.device.keys import new_key

        keys, cfg_path = self.path("keys.json"), self.path("device.json")
        for p in (keys, cfg_path):
            p.unlink(missing_ok=True)
        new_key(
            self.opt.device_id,
            keys,
            config_path=cfg_path,
            server=f"{self.server[0]}:{self.server[1]}",
        )
        cfg = json.loads(cfg_path.read_text())
        cfg.update(
            read_interval_s=self.opt.read_interval_s,
            report_interval_s=self.opt.report_interval_s,
            transport=self.opt.transport,
        )
        cfg.update(profile=self.opt.profile, heartbeat_s=self.opt.heartbeat_s)
        write_private(cfg_path, json.dumps(config.validate(cfg), indent=2))  # holds the key

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[str]:
        err = open(self.path(f"{name}.stderr"), "w")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def _start_collector(self) -> None:
        proc = self._spawn(
            "collector",
            _nbkit(
                "collect",
                "--listen",
                f"127.0.0.1:{self.collector_port}",
                *self._intake_args(),
                "--db",
                str(self.path("collector.db")),
                "--keys",
                str(self.path("keys.json")),
                "--json",
                *self._collector_clock(),
            ),
        )
        self._thread(self._collector_reader, proc)
        deadline = time.monotonic() + 10
        while "listening" not in self.path("collector.stderr").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise CommandError(
                    "the collector did not start: " + self.path("collector.stderr").read_text()
                )
            time.sleep(0.02)

    def _collector_clock(self) -> list[str]:
        if self.master is None:
            return []
        return ["--clock", f"sim:{self.master.addr[0]}:{self.master.addr[1]}:collector"]

    def _start_broker(self) -> None:
        """Where the device sends: the collector's UDP/TCP/CoAP intake, or an MQTT broker."""
        transport = self.opt.transport
        if transport not in TRANSPORTS:
            raise CommandError(f"unknown transport {transport!r}: one of {', '.join(TRANSPORTS)}")
        if transport == "udp":
            self.server = ("127.0.0.1", self.collector_port)
        elif transport == "mqtt":
            from host_tools.collector.broker import BrokerProcess, free_port

            self.broker = BrokerProcess("127.0.0.1", free_port())
            self.broker.start()
            self.server = ("127.0.0.1", self.broker.port)
        else:
            port = free_udp_port() if transport == "coap" else _free_tcp_port()
            self.server = ("127.0.0.1", port)

    def _intake_args(self) -> list[str]:
        if self.opt.transport == "udp":
            return []
        return [f"--{self.opt.transport}", f"{self.server[0]}:{self.server[1]}"]

    def _start_emulator(self) -> str:
        proc = self._spawn(
            "emulator",
            _nbkit(
                "emulate",
                "--modem",
                self.opt.modem,
                "--clock",
                self.clock_arg,
                "--timeline",
                str(self.path("timeline.jsonl")),
                "--spy",
                str(self.path("spy.jsonl")),
                *([] if "--baud" in self.opt.emulator_args else _board_baud(self.opt.modem)),
                *self.opt.emulator_args,
            ),
        )
        return _read_first_lines(proc, 1, 15, "the modem emulator")[0]

    def _start_vboard(self, modem_port: str) -> None:
        # The board runs the firmware as a board does: compiled .mpy files (source compiled on
        # the device would not fit its heap), mounted read-only as the board's built-in code.
        from host_tools.device.build import build_board

        board = BOARD_FOR_MODEM.get(self.opt.modem)
        if board is None:
            raise CommandError(
                f"no virtual board for modem {self.opt.modem!r}: "
                f"one of {', '.join(BOARD_FOR_MODEM)}"
            )
        app = Path(self.opt.app_dir) if self.opt.app_dir else self.path("app")
        image = rom.image_path(app / board)
        if not self.opt.app_dir:
            build_board(board, app, profile=self.opt.build_profile)
            rom.build_image(app / board, image)
        elif not image.is_file():  # a shared tree (a fleet cell's): its owner builds the image
            raise CommandError(f"{image}: the ROM image of the shared app tree was not built")
        proc = self._spawn(
            "vboard",
            _nbkit(
                "vboard",
                "--console",
                "--flash",
                str(self.path("flash.img")),
                "--modem-port",
                modem_port,
                *(["--modem-baud", str(self.opt.modem_baud)] if self.opt.modem_baud else []),
                "--clock",
                self.clock_arg,
                "--seed-config",
                str(self.path("device.json")),
                "--board",
                board,
                "--app",
                str(app / board),
                "--rom",
                str(image),
                *self._profile_vboard_args(),
                *self.opt.vboard_args,
            ),
        )
        console, control = _read_first_lines(proc, 2, 15, "the virtual board")
        self.console_path = console
        host, port = control.split()[1].rsplit(":", 1)
        self.control_addr = (host, int(port))
        self._console_fd = os.open(console, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self._console_fd)
        self._thread(self._console_reader)

    def _start_meterbus(self) -> None:
        """The emulated meter on the meter bus, for the profiles that read one."""
        protocol = meterbus_args(self.opt.profile)
        if protocol is None:
            return
        proc = self._spawn(
            "meterbus",
            _nbkit(
                "meterbus",
                *protocol,
                "--control-port",
                "0",
                "--clock",
                self.clock_arg,
                *self.opt.meterbus_args,
            ),
        )
        path, control = _read_first_lines(proc, 2, 15, "the meter-bus emulator")
        self.meterbus_path = path
        host, port = control.split()[1].rsplit(":", 1)
        self.meterbus_control = (host, int(port))

    def _profile_vboard_args(self) -> list[str]:
        args = ["--meterbus-port", self.meterbus_path] if self.meterbus_path else []
        for name, value in PROFILE_PINS.get(self.opt.profile, {}).items():
            args += ["--pin", f"{name}={value}"]
        return args

    def meter(self, command: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """One JSON command on the meter emulator's control port (see `nbkit meterbus --help`)."""
        if self.meterbus_control is None:
            raise CommandError(f"profile {self.opt.profile!r} has no meter bus")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(json.dumps(command).encode(), self.meterbus_control)
            reply: dict[str, Any] = json.loads(s.recv(65536))
            return reply

    def _thread(self, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        self._threads.append(t)

    # -- readers ------------------------------------------------------------------------

    def _collector_reader(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "uplink":
                received = event.get("received") if self.sim is not None else None
                event["virtual_t"] = received or self.virtual_now()  # device time under sim
                with self._lock:
                    self.uplinks.append(event)
                    self._lock.notify_all()
                if self.on_uplink:
                    self.on_uplink(event)

    def _console_reader(self) -> None:
        buf = b""
        while True:
            try:
                data = os.read(self._console_fd, 4096)
            except OSError:
                return
            if not data:
                return
            buf += data
            *lines, buf = re.split(rb"\r?\n", buf)
            for raw in lines:
                line = raw.decode(errors="replace")
                with self._lock:
                    self.console_lines.append(line)
                    self._lock.notify_all()
                if self.on_console:
                    self.on_console(line)

    # -- while running ------------------------------------------------------------------

    def virtual_now(self) -> float:
        """Device time: the master's (as this rig last heard it), or EPOCH + wall seconds."""
        if self.sim is not None:
            # a paced rig is not told the advances: the master's own time (it is in-process)
            return self.master.t_us / 1_000_000 if self.opt.pace else float(self.sim.now())
        return EPOCH + (time.time() - self.wall_start)

    def run_until(
        self, t: float, predicate: Callable[[], bool] | None = None, hang_s: float = 120.0
    ) -> bool:
        """Let device time run to ``t`` (virtual s) and hold it there: the rig is busy again
        when this returns, so what the caller does next happens at one instant. With a
        ``predicate``, return True as soon as it holds (checked between advances). A rig
        whose time stops moving for ``hang_s`` wall seconds (a process hung, a board parked
        at a prompt) raises CommandError naming who holds time back."""
        import select

        sim = self.sim
        if sim is None:
            while self.virtual_now() < t:
                if predicate is not None and predicate():
                    return True
                self.check_alive()
                time.sleep(min(0.2, max(0.0, t - self.virtual_now())))
            return predicate() if predicate is not None else True
        last, still = self.master.advances, time.monotonic()
        checked = still
        while sim.now() < t:
            if predicate is not None and predicate():
                return True
            sim.report(t, eager=predicate is not None)  # told every step while it watches
            ready, _, _ = select.select([sim], [], [], 0.5)
            if ready:
                sim.on_readable()
            if time.monotonic() - checked >= 0.5:  # also while others keep time moving: a
                checked = time.monotonic()  # meter whose emulator died is named at once
                self.check_alive()
            if self.master.advances != last:
                last, still = self.master.advances, time.monotonic()
                continue
            self.check_alive()
            if time.monotonic() - still > hang_s:
                raise CommandError(
                    f"device time stopped at {sim.now() - EPOCH:.3f} s for {hang_s:g} wall s "
                    f"({self.master.describe()}); last console lines:\n"
                    + "\n".join(self.console_lines[-15:])
                )
        return predicate() if predicate is not None else True

    def control(self, command: str, timeout: float = 5.0) -> str:
        """One command on the virtual board's control channel (see `nbkit vboard --help`)."""
        if self.sim is not None:
            self.sim.sent("m0.cmd")  # time waits until the board's host has done it
            self._wait_paced()  # paced: counted at the master before the board has it
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(command.encode(), self.control_addr)
            return s.recv(65536).decode()

    def wait_for(self, predicate: Callable[[], bool], device_s: float) -> bool:
        """Let up to ``device_s`` device seconds pass until predicate() holds: the rig drives
        the master (run_until); a paced rig's time runs on by itself, and the real clock's is
        the wall's, so those are watched, re-checked on every uplink/console line."""
        if self.sim is not None and not self.opt.pace:
            return self.run_until(self.virtual_now() + device_s, predicate)
        end = self.virtual_now() + device_s
        with self._lock:
            while not predicate():
                if self.virtual_now() >= end:
                    return False
                self.check_alive()
                self._lock.wait(0.05)
        return True

    def check_alive(self) -> None:
        if self.master is not None and self.master.failure:
            raise CommandError(f"the rig's time master stopped the run: {self.master.failure}")
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                err = self.path(f"{name}.stderr").read_text()[-2000:]
                raise CommandError(f"the {name} stopped (code {proc.returncode}):\n{err}")

    # -- stop ---------------------------------------------------------------------------

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every process (board first), wait, and return their exit codes."""
        codes: dict[str, int | None] = {}
        for name in ("vboard", "meterbus", "emulator", "collector"):
            proc = self.procs.get(name)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                codes[name] = proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                codes[name] = proc.wait()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        if self._console_fd >= 0:
            os.close(self._console_fd)
            self._console_fd = -1
        for t in self._threads:
            t.join(2)
        if self.master is not None:
            if self.sim is not None:
                self.sim.close()
            if self._own_master:
                self.master.stop()
            self.master = None
        return codes

    def __enter__(self) -> Rig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
