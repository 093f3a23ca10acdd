"""Firmware at the protocol's floor: the emulator's timeline of a report against the minimum.

The protocol minimum of a report after a PSM wake with an ack expected: one RRC connection
(``rrc_setup_s``), one uplink (``AT+NSOSTF`` with 0x400, ``tx_s``), the release right after the
ack (``rai_release_s``), then the granted T3324 in idle before PSM. No other air command, no
second connection, no idle waiting.

The firmware's charge is computed from the timeline's *modelled* states: how many RRC
connections and uplinks it caused and how long it stayed in idle, each at the modelled duration.
The recorded timeline (device time of the time master, :mod:`wakerun`: no host latency in it)
gives the recorded ratio beside it: above 1 by the UART wake before the RRC setup (``awake_s``,
the firmware's local commands at the emulator's response times), which the minimum leaves out.
The recorded connected time beyond the model is returned as ``beyond_s`` (the emulator's timers
are the model's, so it is zero to the microsecond).
"""

from __future__ import annotations

from dataclasses import dataclass

from host_tools.energy import wakerun
from host_tools.energy.model import Profile, Record, integrate
from host_tools.energy.timing import DEFAULT


@dataclass
class FloorResult:
    """One report measured against its minimum."""

    ce: int
    air: list[str]
    connections: int
    uplinks: int
    firmware_mah: float  # from the modelled states the firmware caused
    minimum_mah: float
    recorded_mah: float  # the recorded timeline
    beyond_s: float  # recorded connected time beyond the model
    awake_s: float  # recorded UART wake before the RRC setup (local commands): not in the minimum

    @property
    def ratio(self) -> float:
        return self.firmware_mah / self.minimum_mah

    @property
    def recorded_ratio(self) -> float:
        return self.recorded_mah / self.minimum_mah


def _minimum(ce: int, payload: int, idle_s: float) -> list[Record]:
    tm = DEFAULT
    t, out = 0.0, []
    for state, seconds in (
        ("connected", tm.rrc_setup_s[ce]),
        ("tx", tm.tx_s(payload, ce)),
        ("connected", tm.rai_release_s),
        ("idle", idle_s),
    ):
        out.append(Record(t, state, ce))
        t += seconds
    out.append(Record(t, "psm", ce))
    return out


def _modelled(report: list[Record], ce: int, payload: int) -> tuple[list[Record], int, int, float]:
    # rebuild the firmware's report from what it caused, at modelled durations
    tm = DEFAULT
    connections = uplinks = 0
    idle_s = recorded_conn = 0.0
    for i, rec in enumerate(report[:-1]):
        seconds = report[i + 1].t - rec.t
        prev = report[i - 1].state if i else "psm"
        if rec.state == "connected":
            recorded_conn += seconds
            if prev in ("psm", "idle", "edrx", "awake"):
                connections += 1
        elif rec.state == "tx":
            uplinks += 1
        elif rec.state == "idle":
            idle_s += seconds
    t, out = 0.0, []
    for _ in range(connections):
        out.append(Record(t, "connected", ce))
        t += tm.rrc_setup_s[ce]
    for _ in range(uplinks):
        out.append(Record(t, "tx", ce))
        t += tm.tx_s(payload, ce)
    out.append(Record(t, "connected", ce))
    t += tm.rai_release_s * max(1, connections)
    out.append(Record(t, "idle", ce))
    t += idle_s
    out.append(Record(t, "psm", ce))
    modelled_conn = connections * tm.rrc_setup_s[ce] + tm.rai_release_s * max(1, connections)
    return out, connections, uplinks, recorded_conn - modelled_conn


def _seconds_in(report: list[Record], state: str) -> float:
    return sum(report[i + 1].t - r.t for i, r in enumerate(report[:-1]) if r.state == state)


def measure(profile: Profile, ce: int) -> FloorResult:
    """Run the firmware's report wake at coverage ``ce`` and compare it with the minimum."""
    run = wakerun.measure_psm_wake_report(ce_level=ce)
    awake = [i for i, r in enumerate(run.report) if r.state != "psm"]
    report = run.report[awake[0] :] if awake else run.report
    payload = len(wakerun.PAYLOAD)
    modelled, connections, uplinks, beyond_s = _modelled(report, ce, payload)
    idle_s = _seconds_in(report, "idle")
    minimum = _minimum(ce, payload, idle_s)
    return FloorResult(
        ce=ce,
        air=run.air,
        connections=connections,
        uplinks=uplinks,
        firmware_mah=integrate(modelled, profile).total_mah,
        minimum_mah=integrate(minimum, profile).total_mah,
        recorded_mah=integrate(report, profile).total_mah,
        beyond_s=beyond_s,
        awake_s=_seconds_in(report, "awake"),
    )
