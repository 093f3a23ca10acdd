"""Run the firmware's report wake (MicroPython) against ``nbkit emulate`` and measure it.

One wake = one MicroPython process running ``tests/e2e/power_wake.py`` (a new process per wake,
as after an MCU deep sleep) on the emulator's pty. It resumes or attaches, reads the granted
timers, sends one reading with release assistance, reads the ack from a UDP peer on 127.0.0.1
and applies the power policy. The e2e tests and the bench suite ``power`` use this: the bench
prints the AT commands of a report after a PSM wake as measured in the emulator's spy log, and
the charge of its recorded state timeline.

Device time is the time master's (host_tools.simclock), never the host's: the emulator
(``m0.modem``), the ack peer (``echo``) and each wake (``m0.w1``, ``m0.w2`` ...) are its
participants, and so is this driver, the MCU between wakes (``m0.mcu``). The driver holds time
while it starts a wake or looks at the records, lets the wake's own waits move it while the
wake runs, and between wakes lets exactly the device time pass that it asks for
(:meth:`WakeRig.until_state`, :meth:`WakeRig.sleep`). So every figure is the same from run to
run, however fast or busy the host is.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_tools import FIRMWARE_DIR, REPO_ROOT
from host_tools.emulator.echo import udp_echo
from host_tools.emulator.process import EmulatorProcess, running_emulator
from host_tools.energy import airpath
from host_tools.energy.model import Profile, Record, Result, integrate
from host_tools.simclock.client import SimClient
from host_tools.simclock.master import Master
from host_tools.vboard.mpy import micropython_argv

SCRIPT = REPO_ROOT / "tests" / "e2e" / "power_wake.py"
#: the wake script is compiled from source in the process: the compiler needs the room
HEAP = "512K"
PAYLOAD = b"reading:1234"
#: device time (unix s) when a run starts: the same in every run
EPOCH = 1_764_000_000
#: the meter's channel: its UART is CHAN.uart.*, the emulator CHAN.modem
CHAN = "m0"
#: wall seconds a wake or a wait may take before the run counts as stuck
WALL_GUARD_S = 60.0


@dataclass
class WakeRig:
    """The emulator, the ack peer and the MCU between wakes on one time master."""

    master: Master
    mcu: SimClient  # this driver: busy while it acts, idle while device time may pass
    emu: EmulatorProcess
    peer: Any  # what the wakes report to: the ack peer's UDP port (or a running collector)
    pty: int  # the meter's UART while no wake holds it: what reaches it is drained and counted
    wakes: int = 0
    outputs: list[str] = field(default_factory=list)  # each wake's whole output, in order

    @property
    def reads(self) -> tuple[str, ...]:
        """The channels the driver itself receives on (its report may lag on them)."""
        return (f"{CHAN}.uart.dn", f"{CHAN}.exit")

    def now(self) -> float:
        """Device seconds since :data:`EPOCH`."""
        return self.mcu.now() - EPOCH

    @property
    def ack_port(self) -> int:
        """The ack peer's UDP port (with the default peer)."""
        return int(self.peer)

    def wake(self, fallback: str = "cfun0", report_s: int = 7800) -> dict[str, list[str]]:
        """One wake of the firmware (``tests/e2e/power_wake.py``), started at the current
        device time; its ``wake:`` output lines by their first word. Raises RuntimeError with
        the output when the process fails."""
        args = [str(self.ack_port), fallback, str(report_s), "1200"]
        output = self.run(SCRIPT, lambda master, name: [self.emu.path, master, name, *args])
        return _wake_lines(output)

    def run(
        self,
        script: Path,
        argv: Callable[[str, str], list[str]],
        *,
        heap: str = HEAP,
        check: bool = True,
        during: tuple[Callable[[], bool], Callable[[], None]] | None = None,
        path: list[str] | None = None,
    ) -> str:
        """Run one MicroPython ``script`` as this meter's next wake (a participant the master
        knows before it starts); ``argv(master, name)`` gives its arguments (the master's
        ``HOST:PORT`` and the wake's participant name). Its whole output; RuntimeError when it
        exits non-zero (``check``) or runs on after device time stopped. ``during`` = (when,
        act): at the first instant time stops at while the script runs at which ``when()``
        holds (every peer done with that instant), ``act()`` runs with time held (a fault
        from outside the master, e.g. a broker crash, at a device instant no host speed moves).
        ``path``: more folders the script imports from (after the firmware's).
        """
        self._settle()
        self.wakes += 1
        name = f"{CHAN}.w{self.wakes}"
        self.mcu.join(name)  # busy until its first report: time waits for the process start
        host, port = self.master.addr
        proc = _start_micropython([str(script), *argv(f"{host}:{port}", name)], heap, path)
        output, code = self._serve_wake(proc, during)
        self.mcu.go()  # the process ended: at the time it left off (its `exit` holds time)
        if "left" in output.splitlines():  # its last act counted it (tests/e2e/simwire.py)
            self.mcu.received(f"{CHAN}.exit")
        self.mcu.bye(name)
        self.outputs.append(output)
        if code != 0 and check:
            raise RuntimeError(f"{script.name} failed ({code}):\n{output}")
        return output

    def _serve_wake(
        self,
        proc: subprocess.Popen[bytes],
        during: tuple[Callable[[], bool], Callable[[], None]] | None = None,
    ) -> tuple[str, int]:
        """Stand idle (no deadline of its own) while the wake runs; its output and exit code."""
        assert proc.stdout is not None
        out_fd, chunks = proc.stdout.fileno(), list[bytes]()
        wall = time.monotonic() + WALL_GUARD_S
        try:
            while time.monotonic() < wall:
                self.mcu.report(None, eager=during is not None)
                watched: list[Any] = [self.mcu, out_fd]
                ready, _, _ = select.select(watched, [], [], 0.5)
                if self.mcu in ready and self.mcu.on_readable() and during is not None:
                    if self.master.wait_settled(self.mcu.name, self.reads, WALL_GUARD_S):
                        if during[0]():
                            during[1]()
                            during = None
                if out_fd in ready:
                    data = os.read(out_fd, 65536)
                    if not data:
                        return b"".join(chunks).decode(errors="replace"), proc.wait()
                    chunks.append(data)
            raise RuntimeError(
                f"a wake ran {WALL_GUARD_S:g} wall s at device {self.now():.3f} s "
                f"({self.master.describe()}):\n{b''.join(chunks).decode(errors='replace')}"
            )
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()

    def until_state(self, state: str, within_s: float = 600.0) -> int:
        """Let device time pass until the modem's timeline ends in ``state`` (checked at
        every instant time stops at, once the emulator has recorded it); returns the index of
        that record. The driver holds time there: the next wake starts at that instant."""
        self.until(lambda: self._last_state() == state, within_s, f"the modem reached {state}")
        return len(self.emu.timeline()) - 1

    def sleep(self, seconds: float) -> None:
        """Let exactly ``seconds`` of device time pass (the MCU sleeps)."""
        end = self.mcu.now() + seconds
        self.until(lambda: self.mcu.now() >= end, seconds, f"{seconds:g} device s passed")

    def until(self, done: Callable[[], bool], within_s: float, what: str) -> None:
        """Let device time pass until ``done()`` holds at a settled instant; RuntimeError when
        ``within_s`` device seconds pass first."""
        limit = self.mcu.now() + within_s
        while True:
            self._settle()
            if done():
                return
            if self.mcu.now() >= limit:
                raise RuntimeError(
                    f"not {what} within {within_s:g} device s: {self.emu.timeline()[-6:]}"
                )
            self._step(limit)

    def _step(self, limit: float) -> None:
        """Idle until the next instant time stops at (told every advance) or UART input."""
        wall = time.monotonic() + WALL_GUARD_S
        while time.monotonic() < wall:
            self.mcu.report(limit, eager=True)
            watched: list[Any] = [self.mcu, self.pty]
            ready, _, _ = select.select(watched, [], [], 0.5)
            if self.mcu in ready and self.mcu.on_readable():
                return
            if self.pty in ready:
                self.mcu.go()  # input: at its sender's time
                return
        raise RuntimeError(f"device time stopped at {self.now():.3f} s ({self.master.describe()})")

    def _settle(self) -> None:
        """Hold time until every peer has done what it does at this instant, then drain the
        UART (the MCU is asleep: what the modem sent meanwhile is lost, and counted)."""
        if not self.master.wait_settled(self.mcu.name, self.reads, WALL_GUARD_S):
            raise RuntimeError(
                f"the rig did not settle at device {self.now():.3f} s: "
                f"{self.master.failure or self.master.describe()}"
            )
        while True:
            try:
                data = os.read(self.pty, 65536)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self.mcu.received(f"{CHAN}.uart.dn", len(data))

    def _last_state(self) -> str | None:
        timeline = self.emu.timeline()
        return str(timeline[-1]["state"]) if timeline else None


@contextmanager
def wake_rig(
    modem: str = "bc28",
    peer: Callable[[str], AbstractContextManager[Any]] | None = None,
    **emulator_options: Any,
) -> Iterator[WakeRig]:
    """A time master with the driver (it holds time from the start), the peer the wakes
    report to and ``nbkit emulate --modem <modem>`` with ``emulator_options``; device time
    starts at :data:`EPOCH`. ``peer(spec)`` enters the peer on the master given as a
    ``sim:HOST:PORT:CHAN`` spec (default: ``udp_echo`` answering b"ack:" + the datagram;
    ``WakeRig.peer`` is what it yields)."""
    master = Master(EPOCH, stall_s=10).start()
    mcu: SimClient | None = None
    try:
        mcu = SimClient(master.addr, f"{CHAN}.mcu")
        mcu.received(f"{CHAN}.exit", 0)  # declared: a wake's end holds time until seen
        mcu.received(f"{CHAN}.uart.dn", 0)
        sim = f"{mcu.spec}:{CHAN}"
        with (
            (peer or _ack_peer)(sim) as served,
            running_emulator(modem, sim=sim, **emulator_options) as emu,
        ):
            pty = os.open(emu.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                yield WakeRig(master, mcu, emu, served, pty)
            finally:
                os.close(pty)
                emu.stop()  # before the driver leaves: alone it would run time freely
    finally:
        if mcu is not None:
            mcu.close()
        master.stop()


def _ack_peer(sim: str) -> AbstractContextManager[int]:
    host, port = sim.split(":")[1:3]
    return udp_echo(master=(host, int(port)), prefix=b"ack:")


def _start_micropython(
    args: list[str], heap: str = HEAP, path: list[str] | None = None
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, MICROPYPATH=":".join([".frozen", str(FIRMWARE_DIR), *(path or [])]))
    argv = [*micropython_argv(), "-X", f"heapsize={heap}", *args]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(REPO_ROOT)
    )


def _wake_lines(output: str) -> dict[str, list[str]]:
    lines: dict[str, list[str]] = {}
    for line in output.splitlines():
        if line.startswith("wake: "):
            word, _, rest = line[6:].partition(" ")
            lines[word] = rest.split(" ") if rest else []
    return lines


def commands(emu: EmulatorProcess) -> list[str]:
    """Every AT command the firmware wrote so far, from the spy log."""
    return [cmd for _, cmd in airpath.commands_from_spy(emu.spy())]


@dataclass
class PsmWakeReport:
    """A report after a wake from PSM as the emulator saw it."""

    wake: dict[str, list[str]]  # the firmware's output
    commands: list[str]  # AT commands of the wake, in order
    air: list[str]  # those that went over the air (short names)
    local: list[str]  # the others
    timeline: list[dict[str, Any]]  # the whole recorded timeline
    report: list[Record]  # from the PSM before the wake to the PSM after it

    def charge(self, profile: Profile) -> Result:
        """The recorded report's charge (one report)."""
        return integrate(self.report, profile, reports=1)


def measure_psm_wake_report(**emulator_options: Any) -> PsmWakeReport:
    """Attach once, let the modem reach PSM, then measure one report after a PSM wake."""
    with wake_rig(**emulator_options) as rig:
        rig.wake()  # first wake: attach
        rig.until_state("psm")
        before = len(commands(rig.emu))
        out = rig.wake()  # the next wake: the modem slept in PSM meanwhile
        rig.until_state("psm")
        cmds = commands(rig.emu)[before:]
        timeline = rig.emu.timeline()
    psm_at = [i for i, r in enumerate(timeline) if r["state"] == "psm"]
    one = [Record(float(r["t"]), r["state"], int(r["ce"])) for r in timeline[psm_at[-2] :]]
    air, local = airpath.split(cmds)
    return PsmWakeReport(out, cmds, air, local, timeline, one)
