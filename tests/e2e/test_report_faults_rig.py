"""Report faults on the whole rig (issue 15, items 1-3): the real firmware on the virtual board,
the emulated BC28 with a fault scenario, the real collector. The modem refuses every
AT+NSOSTF for a while (+CME ERROR: 4), or reboots under it: the app backs off (no 60 s crash
loop), every sample slot is taken meanwhile, and once the send works again every reading
reaches the collector exactly once, with the failure counter and the resend counter in it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host_tools.rig.rig import Rig, RigOptions
from tests.support.collected import named, stored

pytestmark = pytest.mark.e2e


def _run(tmp_path: Path, fault: dict, until, **device: str) -> Rig:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"faults": [fault]}))
    opts = RigOptions(
        read_interval_s=900,
        report_interval_s=3600,
        emulator_args=["--scenario", str(scenario)],
        **device,  # type: ignore[arg-type]
    )
    rig = Rig(tmp_path, opts)
    with rig:
        assert rig.wait_for(lambda: until(rig), device_s=72_000), rig.console_lines[-30:]
    return rig


def _every_slot_once(rig: Rig) -> None:
    rows = stored(rig)
    seqs = [s for s, _, _, _ in rows]
    assert seqs == list(range(len(seqs))), f"gaps or duplicates in delivered seqs: {seqs}"
    times = [t for t, _ in named(rig, "water")]
    assert len(times) >= 8, times
    # one reading in every 15-minute slot
    slots = [t // 900 for t in times]
    assert slots == list(range(slots[0], slots[0] + len(slots))), times
    assert not [line for line in rig.console_lines if "unexpected error" in line]


def test_a_send_refused_for_hours_is_backed_off_and_no_sample_is_missed(tmp_path: Path) -> None:
    fault = {"kind": "error", "match": "AT+NSOSTF=", "times": 4, "cme": 4}
    rig = _run(tmp_path, fault, lambda r: len(named(r, "water")) >= 8)
    _every_slot_once(rig)
    # cumulative, queued at each attempt whose link came up: the last one says 4
    assert [v for _, v in named(rig, "report_failed")] == [1, 2, 3, 4], stored(rig)
    assert {v for _, v in named(rig, "report_fault")} == {1}  # CME
    failed = [line for line in rig.console_lines if "failed: cme" in line]
    assert len(failed) == 4, failed


def test_a_modem_reboot_under_nsost_resends_once_and_loses_nothing(tmp_path: Path) -> None:
    fault = {"kind": "reboot", "match": "AT+NSOSTF=", "nth": 2}
    rig = _run(
        tmp_path,
        fault,
        lambda r: len(named(r, "water")) >= 8 and named(r, "uplink_resent"),
    )
    _every_slot_once(rig)
    assert named(rig, "uplink_resent")[0][1] == 1, named(rig, "uplink_resent")


def test_an_ec200_reset_under_an_mqtt_publish_resends_once_and_loses_nothing(
    tmp_path: Path,
) -> None:
    # RDY instead of the publish prompt: the MQTT session went with the reset; the link brings
    # the module and the session up again and publishes the frame once more
    fault = {"kind": "reboot", "match": "AT+QMTPUB=", "nth": 2}
    rig = _run(
        tmp_path,
        fault,
        lambda r: len(named(r, "water")) >= 8 and named(r, "uplink_resent"),
        modem="ec200",
        transport="mqtt",
    )
    _every_slot_once(rig)
    assert named(rig, "uplink_resent")[0][1] == 1, named(rig, "uplink_resent")
    assert not named(rig, "report_failed"), named(rig, "report_failed")
