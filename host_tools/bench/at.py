"""Bench suite: the firmware AT driver's cost per attach+send cycle, measured in MicroPython.

Two measurements, labelled apart:

* scripted modem: ``tests/firmware/at_bench.py`` in the MicroPython unix port: the BC95 driver
  attaches, opens a UDP socket, sends 32 bytes and receives one datagram against the scripted
  modem, in virtual time. AT round trips and UART bytes per phase, and heap: live peak above
  the baseline (collected at every transport call; target <= 32 KB), bytes allocated per cycle,
  and the heap the driver modules take once imported (from .py source and as mpy-cross output).
* emulator over a pty: ``tests/e2e/emu_cycle.py``, the same driver over
  ``nbkit.hal.tty.TtyTransport`` against ``nbkit emulate --modem bc28`` and a UDP echo, all on
  one time master (:func:`emulated_cycle`): a real attach from power-on (the "AT" probes while
  the module boots, AUTOCONNECT turned off with a reboot as a factory-fresh BC28 needs, the
  AT+CEREG? polls while it registers), then open, send to the echo on 127.0.0.1, receive the
  echo, close. Its device time comes from the emulator's timing model, not from the host.
"""

from __future__ import annotations

import json
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from host_tools import FIRMWARE_DIR, REPO_ROOT
from host_tools.device import build
from host_tools.emulator.echo import udp_echo
from host_tools.energy.wakerun import wake_rig
from host_tools.errors import CommandError
from host_tools.vboard.mpy import run_micropython

SCRIPT = REPO_ROOT / "tests" / "firmware" / "at_bench.py"
EMULATED_SCRIPT = REPO_ROOT / "tests" / "e2e" / "emu_cycle.py"
# a 128 KiB heap of a 32-bit MCU: `w` scales it by the word size, since the unix port's
# objects are 64-bit (twice the bytes of the same objects on the board)
HEAP = "128wK"
PEAK_TARGET = 32 * 1024


def _micropython_json(args: list[str], firmware: Path = FIRMWARE_DIR) -> dict[str, Any]:
    """Run a MicroPython script with the firmware from `firmware`; its last line as JSON."""
    path = [".frozen", str(firmware), str(SCRIPT.parent)]
    proc = run_micropython(args, path=path, heap=HEAP, cwd=REPO_ROOT, timeout=120)
    if proc.returncode != 0:
        raise CommandError(f"AT benchmark failed in MicroPython:\n{proc.stdout}{proc.stderr}")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def measure(firmware: Path = FIRMWARE_DIR) -> dict[str, int]:
    """The scripted-modem cycle (``at_bench.py``) with the firmware from `firmware`."""
    return _micropython_json([str(SCRIPT)], firmware)


def emulated_cycle(
    model: str, opts: dict[str, Any], **emulator: Any
) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """One run of ``tests/e2e/emu_cycle.py`` (``opts``: its options but the echo's port)
    against ``nbkit emulate --modem <model>`` (``emulator``: its options) and a UDP echo, all on
    one time master (:func:`host_tools.energy.wakerun.wake_rig`): the script's JSON figures,
    the emulator's spy records and the echo's port. CommandError when the script fails."""

    def echo(sim: str) -> AbstractContextManager[int]:
        host, port = sim.split(":")[1:3]
        return udp_echo(master=(host, int(port)))

    with wake_rig(model, peer=echo, **emulator) as rig:
        options = {"model": model, "port": rig.peer, **opts}

        def argv(master: str, name: str) -> list[str]:
            return [rig.emu.path, json.dumps({**options, "sim": [master, name]})]

        try:
            out = rig.run(EMULATED_SCRIPT, argv, heap=HEAP, path=[str(SCRIPT.parent)])
        except RuntimeError as exc:
            raise CommandError(f"the emulated cycle failed in MicroPython:\n{exc}") from exc
        spy = rig.emu.spy()
    if "Traceback" in out:
        raise CommandError(f"the emulated cycle failed in MicroPython:\n{out}")
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return figures, spy, int(rig.peer)


def measure_emulated(model: str = "bc28") -> dict[str, Any]:
    """One real attach+send+receive cycle against ``nbkit emulate`` over its pty."""
    opts = {"payload": "01" * 32, "tries": 1}
    figures, _, _ = emulated_cycle(model, opts, rrc_inactivity=20000)
    if figures["echo"] is None:
        raise CommandError(f"the emulated cycle did not complete: {figures['errors']}")
    return figures


def run(report: Any) -> None:
    """Print the AT driver figures (`nbkit bench --suite at-driver`)."""
    report.heading("at-driver", "AT driver (BC95 profile, MicroPython, scripted modem)")
    f = measure()
    report.figure("AT round trips per attach+send", f["attach_send_round_trips"], "commands")
    report.figure("UART bytes out per attach+send", f["attach_send_bytes_out"], "bytes")
    report.figure("UART bytes in per attach+send", f["attach_send_bytes_in"], "bytes")
    report.figure("AT round trips per receive (NSORF + re-check)", f["receive_round_trips"])
    note = "x64 unix port, 8-byte words"
    report.figure("driver modules loaded from .py source", f["modules_bytes"], "bytes", note)
    with tempfile.TemporaryDirectory() as tmp:
        build.build_board("unix_sim", Path(tmp))
        compiled = measure(Path(tmp) / "unix_sim")
    report.figure("driver modules loaded as .mpy", compiled["modules_bytes"], "bytes", note)
    report.figure("engine + driver objects", f["engine_and_driver_bytes"], "bytes")
    _report_peak(report, "peak live heap above baseline", f["peak_heap_above_baseline"], "")
    report.figure("heap allocated per cycle (gc off)", f["allocated_per_cycle"], "bytes")
    _report_emulated(report)


def _report_emulated(report: Any) -> None:
    report.heading("at-driver", "AT driver (BC28 profile, MicroPython, nbkit emulate over a pty)")
    e = measure_emulated()
    attach, send, receive = (e["phases"][k] for k in ("attach", "open_send", "receive"))
    report.figure("AT round trips per attach+send (emulator)", attach[0] + send[0], "commands")
    report.figure("  of which attach (incl. AUTOCONNECT reboot)", attach[0], "commands")
    report.figure("UART bytes out per attach+send (emulator)", attach[1] + send[1], "bytes")
    report.figure("UART bytes in per attach+send (emulator)", attach[2] + send[2], "bytes")
    report.figure("AT round trips per receive (emulator)", receive[0], "commands")
    peak_name = "peak live heap above baseline (emulator)"
    _report_peak(report, peak_name, e["peak"], "; includes tty, engine, driver")
    report.figure("device time of the cycle, from power-on", e["device_ms"] / 1000, "s")
    report.figure("host wall time of the cycle", e["ms"], "ms", "MicroPython, this machine")


def _report_peak(report: Any, name: str, peak: int, more: str) -> None:
    verdict = "within" if peak <= PEAK_TARGET else "OVER"
    report.figure(name, peak, "bytes", f"{verdict} the {PEAK_TARGET // 1024} KB target{more}")
