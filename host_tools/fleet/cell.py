"""One fleet cell: a time master, a collector (UDP + SQLite) and M virtual meters on it.

Each meter is the rig's meter (host_tools/rig/rig.py): its own `nbkit emulate` process (channels
``mI.*`` on the cell's master) and its own `nbkit vboard` running the real firmware, with its
own device id, key, config and littlefs image. The firmware is built once per cell; the keys of
every meter go into one keys file, the collector's. Water flows into every meter's pulse input
as in the demo, 17 hours a day; each meter reports at its own phase (config ``report_phase_s``).

A cell is one process: ``python -m host_tools.fleet.cell`` reads a :class:`CellSpec` as JSON on
stdin, runs it and prints one JSON result on stdout (exit 0, or 1 with ``failure`` naming the
participant that crashed or hung and its last console lines). Cells share nothing, so a cell is
the unit any scheduler can place (docs/scale.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from host_tools.errors import CommandError, describe_unexpected
from host_tools.rig.rig import BOARD_FOR_MODEM, EPOCH, Rig, RigOptions, free_udp_port
from host_tools.vboard import rom

#: meters started at once (each start waits for two processes' first lines)
START_THREADS = 4
#: hours of water flow a day into each meter (then none until the next day: no leak alarm)
FLOW_HOURS = 17


@dataclass
class CellSpec:
    """What one cell runs: its meters (global index, device id, report phase) and the run."""

    index: int
    workdir: str
    #: [{"index": global meter number, "device": device id, "phase": report_phase_s}]
    meters: list[dict[str, int]] = field(default_factory=list)
    hours: float = 24.0
    #: device seconds after the epoch when the run stops (hours + the last report)
    end_s: float = 86400.0 + 600.0
    profile: str = "water"
    modem: str = "bc28"
    read_interval_s: int = 900
    report_interval_s: int = 14400
    flow_period_s: int = 20
    #: wall seconds without device time moving before the cell is declared hung
    hang_s: float = 120.0


class Meter(Rig):
    """One meter of a cell: the rig's emulator + virtual board, on the cell's master."""

    def __init__(self, hub: Rig, spec: CellSpec, meter: dict[str, int]) -> None:
        opts = RigOptions(
            clock="sim",
            modem=spec.modem,
            device_id=meter["device"],
            read_interval_s=spec.read_interval_s,
            report_interval_s=spec.report_interval_s,
            profile=spec.profile,
            chan=f"m{meter['index']}",
            app_dir=str(hub.path("app")),
        )
        super().__init__(hub.workdir / f"m{meter['index']}", opts, master=hub.master)
        self.phase_s = meter["phase"]
        self.server = hub.server

    @property
    def name(self) -> str:
        return f"meter {self.opt.chan} (device {self.opt.device_id})"

    def provision(self) -> None:
        """Key and config (rig's key flow) plus this meter's report phase."""
        from nbkit.store import config

        from host_tools.files.private import write_private

        self.workdir.mkdir(parents=True, exist_ok=True)
        self._provision()
        cfg_path = self.path("device.json")
        cfg = json.loads(cfg_path.read_text())
        cfg["report_phase_s"] = self.phase_s
        write_private(cfg_path, json.dumps(config.validate(cfg), indent=2))

    def start(self) -> Meter:
        modem_port = self._start_emulator()
        self._start_vboard(modem_port)
        return self

    def tail(self, n: int = 12) -> str:
        """Its last console lines and the last stderr lines of its processes."""
        parts = [f"last console lines of {self.name}:", *self.console_lines[-n:]]
        for proc in self.procs:
            err = self.path(f"{proc}.stderr")
            if err.exists():
                lines = err.read_text(errors="replace").splitlines()[-4:]
                parts += [f"{proc} stderr:", *lines]
        return "\n".join(parts)

    def dead(self) -> str | None:
        for proc_name, proc in self.procs.items():
            if proc.poll() is not None:
                return f"{self.name}: the {proc_name} stopped (code {proc.returncode})"
        return None


class Hub(Rig):
    """The cell's master, time driver and collector; check_alive covers every meter."""

    meters: list[Meter]

    def check_alive(self) -> None:
        for meter in self.meters:
            why = meter.dead()
            if why:
                raise CommandError(f"{why}\n{meter.tail()}")
        super().check_alive()


class Cell:
    """Runs one :class:`CellSpec` (see the module docstring)."""

    def __init__(self, spec: CellSpec) -> None:
        self.spec = spec
        workdir = Path(spec.workdir)
        self.hub = Hub(workdir, RigOptions(clock="sim", modem=spec.modem, profile=spec.profile))
        self.hub.meters = []
        self.rss_peak_kb = 0
        self.cpu_by_role: dict[str, float] = {}
        self.meter_rss_peak_kb = 0
        self._sampling = threading.Event()

    def run(self) -> dict[str, Any]:
        spec, hub = self.spec, self.hub
        wall0 = time.monotonic()
        failure = None
        try:
            self._start()
            self._drive()
        except CommandError as exc:
            failure = f"cell {spec.index}: {self._explain(str(exc))}"
        except KeyboardInterrupt:
            failure = f"cell {spec.index}: interrupted"
        except Exception as exc:  # no traceback: the cell still stops and reports
            failure = f"cell {spec.index}: {describe_unexpected(exc)}"
        finally:
            self._sampling.set()
            for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the stop
                signal.signal(sig, signal.SIG_IGN)
            codes = self._stop()
        if failure is None:
            bad = [f"{m} {n} exited with code {c}" for m, n, c in codes if c]
            if bad:
                failure = f"cell {spec.index}: " + "; ".join(bad)
        out: dict[str, Any] = {}
        if failure is None:
            try:
                out = self._figures()
            except Exception as exc:  # a run's files unreadable: said, not a traceback
                failure = f"cell {spec.index}: figures: {describe_unexpected(exc)}"
        usage = _usage()
        return {
            "cell": spec.index,
            "meters": len(spec.meters),
            "failure": failure,
            "wall_s": round(time.monotonic() - wall0, 2),
            "cpu_s": usage[0],
            "max_process_rss_mb": usage[1],
            "cell_rss_peak_mb": round(self.rss_peak_kb / 1024, 1),
            "meter_rss_peak_mb": round(self.meter_rss_peak_kb / 1024, 1),
            "cpu_s_by_process": {**self.cpu_by_role, "cell_driver": _self_cpu()},
            "workdir": str(hub.workdir),
            **out,
        }

    # -- start, drive, stop ------------------------------------------------------------------

    def _start(self) -> None:
        from host_tools.collector import keyfile
        from host_tools.device.build import build_board

        spec, hub = self.spec, self.hub
        hub.workdir.mkdir(parents=True, exist_ok=True)
        hub.collector_port = free_udp_port()
        hub.server = ("127.0.0.1", hub.collector_port)
        board = BOARD_FOR_MODEM.get(spec.modem)
        if board is None:
            raise CommandError(f"no virtual board for modem {spec.modem!r}")
        build_board(board, hub.path("app"))
        tree = hub.path("app") / board  # one ROM image for every board of the cell
        rom.build_image(tree, rom.image_path(tree))
        hub.meters = [Meter(hub, spec, m) for m in spec.meters]
        keys: dict[int, bytes] = {}
        for meter in hub.meters:
            meter.provision()
            keys.update(keyfile.load(meter.path("keys.json")))
            meter.path("keys.json").unlink()
        keyfile.save(hub.path("keys.json"), keys)  # one keys file: the collector's
        hub._start_collector()
        with ThreadPoolExecutor(START_THREADS) as pool:
            list(pool.map(_start_meter, hub.meters))
        threading.Thread(target=self._sample_rss, daemon=True).start()
        self._water_day()

    def _water_day(self) -> None:
        """A household's day of water into every meter's pulse input: 1 litre every
        flow_period_s for FLOW_HOURS, then none until the next day (the demo's flow never
        stops, which the meter rightly reports as a leak after a day)."""
        if self.spec.profile != "water":
            return
        pulses = int(FLOW_HOURS * 3600 // self.spec.flow_period_s)
        for meter in self.hub.meters:
            meter.control(f"pulse pulse_a {pulses} {self.spec.flow_period_s * 1000}")

    def _drive(self) -> None:
        """Device time to the end: each day's water at its start, a progress line on stderr
        at each quarter of the run."""
        spec = self.spec
        quarters = {spec.end_s * q / 4: q for q in range(1, 5)}
        days = {float(d * 86400) for d in range(1, int(spec.end_s // 86400) + 1)}
        for t in sorted(set(quarters) | days):
            self.hub.run_until(EPOCH + t, hang_s=spec.hang_s)
            if t in days and t < spec.end_s:
                self._water_day()
            if t in quarters:
                print(
                    f"nbkit fleet: cell {spec.index}: {t / 3600:.1f} of "
                    f"{spec.end_s / 3600:.1f} device h",
                    file=sys.stderr,
                    flush=True,
                )

    def _cpu_by_role(self) -> dict[str, float]:
        """CPU seconds so far of each kind of process (the boards' MicroPython processes are
        the vboard hosts' waited-for children), from /proc/PID/stat."""
        tick = os.sysconf("SC_CLK_TCK")
        out = {"emulator": 0.0, "vboard_host": 0.0, "micropython": 0.0, "collector": 0.0}
        procs = [("collector", p) for p in self.hub.procs.values()]
        procs += [(n, p) for m in self.hub.meters for n, p in m.procs.items()]
        for name, proc in procs:
            cpu = _cpu_ticks(proc.pid)
            if cpu is None:
                continue
            own, kids = cpu[0] / tick, cpu[1] / tick
            if name == "vboard":
                out["vboard_host"] += own
                out["micropython"] += kids
                for server in _children(proc.pid):  # the fork server: it and the boots it reaped
                    sub = _cpu_ticks(server)
                    if sub is not None:
                        out["micropython"] += (sub[0] + sub[1]) / tick
            elif name in out:
                out[name] += own
        return {k: round(v, 1) for k, v in out.items()}

    def _stop(self) -> list[tuple[str, str, int | None]]:
        """Every process of every meter signalled at once, then waited for; the hub last."""
        self.cpu_by_role = self._cpu_by_role()
        self._rss_once()
        for meter in self.hub.meters:
            for proc in meter.procs.values():
                if proc.poll() is None:
                    for sig in (signal.SIGCONT, signal.SIGTERM):  # a stopped one too
                        try:
                            proc.send_signal(sig)
                        except OSError:
                            pass
        # waited for here, so Rig.stop does not signal again: a second SIGTERM during the
        # interpreter's shutdown (handlers back to default) would kill it with -15
        deadline = time.monotonic() + 10
        for meter in self.hub.meters:
            for proc in meter.procs.values():
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        codes: list[tuple[str, str, int | None]] = []
        for meter in self.hub.meters:
            codes += [(meter.name, n, c) for n, c in meter.stop().items()]
        codes += [("the cell", n, c) for n, c in self.hub.stop().items()]
        return codes

    def _explain(self, message: str) -> str:
        """A failure message plus the console of the meters it names (``m3.modem`` ...) or,
        for a hang, of the meters whose participants hold time back."""
        head, sep, rest = message.partition("; last console lines:")
        if sep and not rest.strip():
            message = head  # the cell's driver has no console of its own
        named = [m for m in self.hub.meters if f"{m.opt.chan}." in message]
        if not named and self.hub.master is not None:
            busy = self.hub.master.describe()
            named = [m for m in self.hub.meters if f"{m.opt.chan}." in busy]
        extra = [m.tail() for m in named[:3] if m.tail() not in message]
        return "\n".join([message, *extra])

    # -- figures -----------------------------------------------------------------------------

    def _figures(self) -> dict[str, Any]:
        """Each meter's demo summary (the demo's accounting of slots, losses, duplicates and
        charge, on its own rows of the cell's collector) and the collector's arrivals."""
        from host_tools.rig import account
        from host_tools.rig.demo import summarize

        spec, hub = self.spec, self.hub
        rows = account.rows(hub.path("collector.db"))
        meters = []
        for meter in hub.meters:
            dev = meter.opt.device_id
            meter.uplinks = [e for e in hub.uplinks if e["device"] == dev]
            mine = [r for r in rows if r["device"] == dev]
            meters.append(
                {
                    "meter": meter.opt.chan,
                    "device": dev,
                    "report_phase_s": meter.phase_s,
                    "rows_stored": len(mine),
                    **summarize(meter, spec.hours, stored=mine),
                }
            )
        per_second = Counter(int(e["received"] - EPOCH) for e in hub.uplinks)
        return {
            "meter_results": meters,
            "rows_stored": len(rows),
            "uplinks_per_device_second": {str(k): v for k, v in sorted(per_second.items())},
        }

    def _sample_rss(self) -> None:
        """Peak resident memory of the cell (its processes and the boards' MicroPython), every
        wall second; :meth:`_stop` takes one more (a short cell may end within the second)."""
        while not self._sampling.wait(1.0):
            self._rss_once()

    def _rss_once(self) -> None:
        total = _rss_kb(os.getpid())
        for proc in self.hub.procs.values():
            total += _tree_rss_kb(proc.pid)
        for meter in self.hub.meters:
            mine = sum(_tree_rss_kb(p.pid) for p in list(meter.procs.values()))
            self.meter_rss_peak_kb = max(self.meter_rss_peak_kb, mine)
            total += mine
        self.rss_peak_kb = max(self.rss_peak_kb, total)


def _start_meter(meter: Meter) -> None:
    try:
        meter.start()
    except CommandError as exc:
        raise CommandError(f"{meter.name}: {exc}\n{meter.tail()}") from None


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(k) for k in f.read().split()]
    except (OSError, ValueError):
        return []


def _cpu_ticks(pid: int) -> tuple[int, int] | None:
    """(CPU ticks of the process, of its waited-for children), from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
    except (OSError, IndexError, ValueError):
        return None


def _tree_rss_kb(pid: int) -> int:
    """RSS of a process and its descendants (a vboard host, its fork server and the
    MicroPython process of the boot that runs)."""
    return _rss_kb(pid) + sum(_tree_rss_kb(k) for k in _children(pid))


def _usage() -> tuple[float, float]:
    """(CPU seconds of this process and every waited-for descendant, largest process RSS MB)."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return round(cpu, 2), round(max(me.ru_maxrss, kids.ru_maxrss) / 1024, 1)


def _self_cpu() -> float:
    """CPU seconds of the cell's own process (its time master thread included)."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    return round(me.ru_utime + me.ru_stime, 1)


def _on_term(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """``python -m host_tools.fleet.cell``: a CellSpec as JSON on stdin -> a result on stdout."""
    signal.signal(signal.SIGTERM, _on_term)
    try:
        spec = CellSpec(**json.loads(sys.stdin.read()))
    except (ValueError, TypeError) as exc:
        print(json.dumps({"failure": f"bad cell spec: {exc}"}))
        return 1
    try:
        result = Cell(spec).run()
    except KeyboardInterrupt:
        result = {"cell": spec.index, "failure": f"cell {spec.index}: interrupted"}
    except Exception as exc:  # the cell could not even be set up (its time master's socket)
        result = {"cell": spec.index, "failure": f"cell {spec.index}: {describe_unexpected(exc)}"}
    print(json.dumps(result))
    return 0 if result.get("failure") is None else 1


def spec_json(spec: CellSpec) -> str:
    return json.dumps(asdict(spec))


if __name__ == "__main__":
    sys.exit(main())
