"""Run ``nbkit emulate`` as a subprocess from tests and tools.

    with running_emulator("bc28", time_scale=1000, rrc_inactivity=5) as emu:
        with PtyClient(emu.path) as port:
            port.command("AT")
        emu.timeline()  # parsed JSON Lines so far

Keyword options are the CLI's long options (``rrc_inactivity=5`` -> ``--rrc-inactivity 5``,
``deny_psm=True`` -> ``--deny-psm``); ``scenario`` may be a dict (written as JSON) or a path.
The handle owns a work directory with ``spy.jsonl``, ``timeline.jsonl`` and ``stderr.txt``.

``sim="sim:HOST:PORT:CHAN"`` makes the emulator a participant (``CHAN.modem``) of a time master
(host_tools.simclock) instead of a wall-time clock: what drives it must then be a participant too.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools.emulator.clock import VirtualClock
from host_tools.simclock.client import SimClient
from host_tools.simclock.master import Master


@dataclass
class EmulatorProcess:
    """A running ``nbkit emulate`` and where its records go."""

    proc: subprocess.Popen[str]
    path: str
    clock: VirtualClock | None  # None: under a time master (``sim``)
    workdir: Path
    sim: str | None = None

    @property
    def spy_path(self) -> Path:
        return self.workdir / "spy.jsonl"

    @property
    def timeline_path(self) -> Path:
        return self.workdir / "timeline.jsonl"

    @property
    def clock_arg(self) -> str:
        """The ``--clock`` value to give a virtual board sharing this emulator's time."""
        if self.clock is None:
            assert self.sim is not None
            return self.sim
        return self.clock.triple()

    def timeline(self) -> list[dict[str, Any]]:
        """The state records (the ``{"model"}`` header line left out)."""
        return [r for r in _jsonl(self.timeline_path) if "state" in r]

    def spy(self) -> list[dict[str, Any]]:
        return _jsonl(self.spy_path)

    def stderr(self) -> str:
        return (self.workdir / "stderr.txt").read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 5.0) -> int:
        """SIGTERM and wait; returns the exit code (killed and -9 if it does not stop)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return -9
        return self.proc.returncode


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def emulate_argv(modem: str, clock: VirtualClock | str, workdir: Path, **opts: Any) -> list[str]:
    """The command line for ``nbkit emulate`` with the given options (``clock``: a wall-time
    clock, or a ``sim:HOST:PORT:CHAN`` spec)."""
    argv = [sys.executable, "-m", "host_tools", "emulate", "--modem", modem]
    if isinstance(clock, str):
        argv += ["--clock", clock]
    elif clock.scale == 1:
        argv += ["--clock", clock.triple()]  # real time, shareable with a board
    else:
        argv += ["--time-scale", repr(clock.scale)]  # its own wall clock, for a wall-time DTE
    argv += ["--spy", str(workdir / "spy.jsonl"), "--timeline", str(workdir / "timeline.jsonl")]
    scenario = opts.pop("scenario", None)
    if isinstance(scenario, dict):
        path = workdir / "scenario.json"
        path.write_text(json.dumps(scenario), encoding="utf-8")
        scenario = path
    if scenario is not None:
        argv += ["--scenario", str(scenario)]
    for key, value in opts.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value not in (False, None):
            argv += [flag, str(value)]
    return argv


@contextmanager
def running_emulator(
    modem: str = "bc28",
    *,
    time_scale: float = 1.0,
    clock: VirtualClock | None = None,
    sim: str | None = None,
    startup_timeout: float = 10.0,
    **opts: Any,
) -> Iterator[EmulatorProcess]:
    """Start ``nbkit emulate``, wait for its pty path, stop it (SIGTERM) on exit. ``sim``: a
    ``sim:HOST:PORT:CHAN`` spec, the emulator joins that time master (``time_scale`` unused)."""
    if sim is None:
        clock = clock or VirtualClock.starting_now(time_scale)
    with tempfile.TemporaryDirectory(prefix="nbkit-emu-") as tmp:
        workdir = Path(tmp)
        argv = emulate_argv(modem, sim or clock, workdir, **opts)  # type: ignore[arg-type]
        with open(workdir / "stderr.txt", "w", encoding="utf-8") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
        handle = None
        try:
            path = _first_line(proc, startup_timeout)
            handle = EmulatorProcess(proc, path, None if sim else clock, workdir, sim)
            yield handle
        finally:
            if handle is not None:
                handle.stop()
            elif proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.05)
        if ready:
            line = proc.stdout.readline().strip()
            if line.startswith("/dev/"):
                return line
            raise RuntimeError(f"nbkit emulate printed {line!r} instead of a pty path")
        if proc.poll() is not None:
            break
    raise RuntimeError(f"nbkit emulate did not print its pty path (exit {proc.poll()})")


class SimCell:
    """A time master for an emulated modem and the MicroPython process that drives it (a board
    without the virtual board around it): the cell's own participant (``rig``) holds time
    until :meth:`board` announces the process that takes over. Start the emulator with
    ``sim=cell.spec``; give the board its ``[host, port, name, chan]``."""

    def __init__(self, master: Master, chan: str = "m0") -> None:
        self.master = master
        self.chan = chan
        self.rig = SimClient(master.addr, "rig")  # busy from its hello: time waits for it
        self.boots = 0

    @property
    def addr(self) -> tuple[str, int]:
        return self.master.addr

    @property
    def spec(self) -> str:
        """The ``--clock`` value that puts an emulator (or a peer) on this cell."""
        return f"sim:{self.addr[0]}:{self.addr[1]}:{self.chan}"

    def board(self) -> list[Any]:
        """Announce the next boot's participant (busy until its own reports arrive) and let
        time go; returns what the board needs to join: ``[host, port, name, chan]``."""
        self.boots += 1
        name = f"{self.chan}.b{self.boots}"
        self.rig.go()  # its report stood: learn the time before it acts
        self.rig.join(name)
        self.rig.report(None)
        return [self.addr[0], self.addr[1], name, self.chan]

    def retire(self, name: str) -> None:
        """The board process ``name`` has exited: it no longer holds time back."""
        self.rig.go()
        self.rig.bye(name)
        self.rig.report(None)


@contextmanager
def sim_cell(
    epoch: float = 1_764_000_000, chan: str = "m0", stall_s: float = 10.0
) -> Iterator[SimCell]:
    """A started time master and its :class:`SimCell`; both stopped on exit."""
    master = Master(epoch, stall_s=stall_s).start()
    cell = None
    try:
        cell = SimCell(master, chan)
        yield cell
    finally:
        if cell is not None:
            cell.rig.close()
        master.stop()
