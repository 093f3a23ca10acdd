"""The EC200 demo (TCP through the emulated Cat1 module) goes on as soon as the network
registers it: no wait sleeps through the +CEREG URC (issue 15: 80 device-minutes after each
registration, 26 readings a day missed, a tamper alarm 1.5 h late).

The firmware turns the radio off after each report (no PSM on Cat1), so every report wake
registers again; the gap between the registration URC and the firmware's next command is read
from the emulator's AT spy log, in device seconds.
"""

from __future__ import annotations

import json

import pytest

from host_tools.rig.rig import Rig, RigOptions

pytestmark = pytest.mark.e2e

#: the firmware's next command after the registration URC, at most this late (device s). The
#: rig runs on the time master (the TCP transport is counted), so host speed adds nothing: the
#: stall was 4800 s.
MAX_GAP_S = 1.0


def _registration_gaps(spy_path) -> list[float]:
    """Device seconds from each "registered" +CEREG/+CGREG URC to the next AT command."""
    gaps, urc_t = [], None
    for line in spy_path.read_text().splitlines():
        entry = json.loads(line)
        text = entry.get("text", "")
        if entry["dir"] == "from_modem" and ('+CEREG: 1,"' in text or '+CEREG: 5,"' in text):
            urc_t = entry["t"] if urc_t is None else urc_t
        elif entry["dir"] == "to_modem" and urc_t is not None:
            gaps.append(entry["t"] - urc_t)
            urc_t = None
    return gaps


def test_the_ec200_report_goes_on_at_the_registration_urc(tmp_path):
    options = RigOptions(clock="sim", modem="ec200", transport="tcp", report_interval_s=3600)
    with Rig(tmp_path, options) as rig:
        done = rig.run_until(rig.virtual_now() + 3 * 3600, lambda: len(rig.uplinks) >= 2)
        assert done, rig.console_lines[-20:]
        gaps = _registration_gaps(rig.path("spy.jsonl"))
    assert gaps, "no registration URC during a report wake"
    assert max(gaps) < MAX_GAP_S, gaps
