"""Power scenarios: the firmware (MicroPython, one process per wake as after an MCU deep sleep)
against `nbkit emulate` over its pty, in device time shared through a time master
(host_tools.energy.wakerun: the test is the MCU between wakes and says how long it sleeps).

(a) the network grants other timers than requested: the firmware schedules by the granted ones;
(b) the network denies PSM: the firmware powers the modem down (cfun0) before the MCU sleeps and
    re-attaches at the next wake, visible as `off` in the timeline instead of a long `idle`;
(c) after a wake from PSM a report costs ONE air command (the NSOSTF) plus local ones for the
    ack, counted from the emulator's spy log;
(d) the wake from PSM sends without re-attach (no CFUN/CGATT after resume).
The recorded timeline of (c) is then integrated by `nbkit energy --timeline`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from host_tools.emulator.process import EmulatorProcess
from host_tools.energy import airpath, model, synth, wakerun
from host_tools.energy.timing import DEFAULT

pytestmark = pytest.mark.e2e
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def _commands(emu: EmulatorProcess) -> list[tuple[float, str]]:
    return airpath.commands_from_spy(emu.spy())


def test_granted_timers_differ_and_the_firmware_schedules_by_them() -> None:
    # requested T3412 70 h / T3324 10 s; the network grants 2 h / 8 s
    with wakerun.wake_rig(nw_tau="00100010", nw_active="00000100") as rig:
        out = rig.wake()
        rig.until_state("psm")
        sent = [cmd for _, cmd in _commands(rig.emu)]
    assert out["resumed"][0] == "False" and out["attached"][0] == "True", out
    assert 'AT+CPSMS=1,,,"01000111","00000101"' in sent, sent  # what was asked...
    assert out["granted"] == ["True", "8", "7200"], out  # ...is not what was granted
    psm, active, tau, wait_s, reasons = out["sched"]
    assert (psm, active, tau) == ("True", "8", "7200"), out
    # the 7800 s report falls 600 s after the granted 2 h TAU: moved 30 s before the TAU
    assert reasons == "report,tau-align" and 7100 <= int(wait_s) <= 7170, out
    assert out["action"] == ["psm"], out
    assert sent.index('AT+CPSMS=1,,,"01000111","00000101"') < sent.index("AT+CFUN=1"), sent


def test_psm_denied_powers_the_modem_down_and_the_next_wake_reattaches() -> None:
    with wakerun.wake_rig(deny_psm=True) as rig:
        # the module attaches by itself after power-on (AUTOCONNECT, its factory setting): the
        # first wake starts once that is done (a wake that met it mid-search sent without
        # turning AUTOCONNECT off, and the second wake's reboot for it showed up where this
        # test wants the modem off)
        rig.until_state("idle")
        first = rig.wake()
        off_index = rig.until_state("off")
        rig.sleep(30)  # the MCU sleeps 30 device s
        n_before = len(_commands(rig.emu))
        second = rig.wake()
        timeline = rig.emu.timeline()
        after = [cmd for _, cmd in _commands(rig.emu)[n_before:]]
    assert first["granted"][0] == "False" and first["action"] == ["cfun0"], first
    assert first["power_down"] == ["True"], first
    assert second["resumed"][0] == "False" and second["attached"][0] == "True", second
    assert "AT+CFUN=1" in after and "AT+CGATT=1" in after, after
    states = [(r["t"], r["state"]) for r in timeline]
    # after the first report the modem was off (not idle at DRX current) until the next attach
    # (the firmware's commands before AT+CFUN=1 wake the module at CFUN=0: "awake", charged)
    following = [s for _, s in states[off_index:]]
    assert following[0] == "off" and "awake" in following[: following.index("search")], states
    asleep_or_not = [s for s in following if s != "awake"]
    assert set(asleep_or_not[: asleep_or_not.index("search")]) == {"off"}, states
    sent_at = max(i for i, (_, s) in enumerate(states[:off_index]) if s == "tx")
    tail = states[sent_at : off_index + 1]
    idle_s = sum(tail[i + 1][0] - t for i, (t, s) in enumerate(tail[:-1]) if s == "idle")
    assert idle_s < 5, tail  # from the report to CFUN=0: seconds of idle, not the interval


def test_wake_from_psm_sends_with_one_air_command_and_no_reattach(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = wakerun.measure_psm_wake_report()
    out, cmds = run.wake, run.commands
    assert out["resumed"][0] == "True" and "attached" not in out, out
    with capsys.disabled():
        print(f"\n  report after a PSM wake: {len(run.air)} air {run.air}, local {run.local}")
    assert run.air == ["AT+NSOSTF"], cmds  # (c): the uplink is the only command on the air
    assert not [c for c in cmds if c.startswith(airpath.ATTACH_PREFIXES)], cmds  # (d)
    assert "AT+NSORF" in run.local and out["report"][1:] == ["[b'ack:reading:1234']"], out
    # the modem woke from PSM straight into RRC setup + tx: no search, no boot
    states = [r.state for r in run.report]
    assert "search" not in states and "boot" not in states, states
    assert states[0] == "psm" and states[-1] == "psm" and "tx" in states, states


def test_energy_of_a_recorded_report_from_the_emulator_timeline(tmp_path: Path) -> None:
    # the timeline of one report after a PSM wake, cut from PSM to PSM, through `nbkit energy`
    run = wakerun.measure_psm_wake_report()
    path = tmp_path / "report.jsonl"
    path.write_text("".join(json.dumps(r.__dict__) + "\n" for r in run.report))
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools", "energy", "--timeline", str(path), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    assert result["reports"] == 1, result
    by_state = result["by_state"]
    # the emulator's sequence on the shared timing model: RRC setup, tx, the ack, the RAI
    # release 1.5 s later, the granted T3324 (10 s) in idle, PSM
    assert by_state["idle"]["seconds"] == pytest.approx(DEFAULT.t3324_s, abs=0.5), by_state
    tail = DEFAULT.rrc_setup_s[0] + DEFAULT.rai_release_s
    assert tail <= by_state["connected"]["seconds"] < tail + DEFAULT.reply_wait_s[0], by_state
    # ... so the recorded charge lies between the model's report without and with an ack wait
    profile = model.load_profile("bc95")
    low = synth.report_charge(synth.Config(payload=12, expect_reply=False), profile)
    high = synth.report_charge(synth.Config(payload=12, expect_reply=True), profile)
    # the model's report starts at the RRC setup; the recorded one also has the UART wake before
    # it ("awake": the firmware's local AT commands at the emulator's response times), which
    # the model leaves out: compared without it
    recorded = result["per_report_mah"] - by_state["awake"]["mah"]
    print(
        f"\n  recorded report: {recorded:.4f} mAh; model (a): {low.total_mah:.4f} without an "
        f"ack wait, {high.total_mah:.4f} with the modelled {DEFAULT.reply_wait_s[0]} s wait"
    )
    assert low.total_mah <= recorded <= high.total_mah, (low.total_mah, recorded, high.total_mah)
