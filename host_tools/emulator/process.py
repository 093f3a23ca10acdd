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
