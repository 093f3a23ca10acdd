"""The floor of each device profile: the real application on the virtual rig.

``nbkit``'s rig (collector + ``nbkit emulate`` + the virtual board running ``firmware/main.py``
in MicroPython) runs one profile (water, smoke, gas-cjt188, electricity-dlt645) over UDP at a
coverage level until three reports have arrived: the boot report (it attaches) and two reports
after a wake from PSM. Each of those is held to the protocol minimum of :mod:`floor`: one
``AT+NSOSTF`` (release after the ack), one RRC connection, no idle wait, then the granted T3324.

The firmware's charge is built from the modelled states its report caused (connections, uplinks,
idle); the recorded connected time beyond that model is returned as ``host_s`` (the rig runs on
its time master, so none of it is the host's latency).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools.energy import airpath, floor
from host_tools.energy.model import Profile, Record, integrate

PROFILES = ("water", "smoke", "gas-cjt188", "electricity-dlt645")
REPORT_S = 1800
REPORTS = 3  # the boot report and two after a PSM wake


@dataclass
class AppFloor:
    profile: str
    ce: int
    reports: int  # reports after a PSM wake that were compared
    air: list[str]  # air commands of the worst report
    ratio: float  # worst firmware / minimum over those reports
    host_s: float  # recorded connected time beyond the model (worst report)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _wakes(timeline: list[dict[str, Any]]) -> list[list[Record]]:
    # report wakes that leave PSM and end in PSM; a wake that searched (an attach) is skipped
    out: list[list[Record]] = []
    current: list[Record] | None = None  # None until the first PSM
    for raw in timeline:
        if "state" not in raw:
            continue  # the {"model"} header line of an emulator timeline
        rec = Record(float(raw["t"]), raw["state"], int(raw["ce"]))
        if rec.state == "psm":
            if current and not any(r.state in ("search", "boot", "off") for r in current):
                out.append([*current, rec])
            current = []
        elif current is not None:
            current.append(rec)
    return out


def _payload(command: str) -> int:
    # AT+NSOSTF=<sock>,<ip>,<port>,<flag>,<len>,<hex>
    parts = command.split(",")
    try:
        return int(parts[4])
    except (IndexError, ValueError):
        return 0


def measure(profile_name: str, ce: int, profile: Profile) -> AppFloor:
    """Run ``profile_name`` on the rig at coverage ``ce``; compare its PSM-wake reports."""
    from host_tools.rig.rig import Rig, RigOptions

    options: dict[str, Any] = {
        "profile": profile_name,
        "report_interval_s": REPORT_S,
        "read_interval_s": REPORT_S // 2,
        "emulator_args": ["--ce-level", str(ce)],
    }
    if profile_name == "smoke":
        options["heartbeat_s"] = REPORT_S
    with tempfile.TemporaryDirectory(prefix="nbkit-floor-app-") as tmp:
        rig = Rig(Path(tmp) / "rig", RigOptions(**options))
        with rig:
            if not rig.wait_for(lambda: len(rig.uplinks) >= REPORTS, 72_000):
                raise RuntimeError(
                    f"{profile_name} CE{ce}: {len(rig.uplinks)} of {REPORTS} reports arrived"
                )
        timeline = _jsonl(rig.path("timeline.jsonl"))
        commands = airpath.commands_from_spy(_jsonl(rig.path("spy.jsonl")))
    wakes = _wakes(timeline)
    if not wakes:
        raise RuntimeError(f"{profile_name} CE{ce}: no report after a PSM wake was recorded")
    worst = AppFloor(profile_name, ce, len(wakes), [], 0.0, 0.0)
    for wake in wakes:
        begin, end = wake[0].t, wake[-1].t
        air = [c for t, c in commands if begin - 1.0 <= t <= end and airpath.on_air(c)]
        sends = [c for c in air if c.upper().startswith(("AT+NSOSTF=", "AT+NSOST="))]
        payload = max((_payload(c) for c in sends), default=0)
        report = wake
        modelled, _connections, uplinks, host_s = floor._modelled(report, ce, payload)
        idle_s = sum(report[i + 1].t - r.t for i, r in enumerate(report[:-1]) if r.state == "idle")
        extra = max(0, len(air) - max(1, uplinks))  # air commands that are not uplinks
        firmware = integrate(modelled, profile).total_mah
        if extra:
            tm = floor.DEFAULT
            firmware += extra * profile.total_ma("tx", ce) * tm.tx_base_s[ce] / 3600.0
        minimum = integrate(floor._minimum(ce, payload, idle_s), profile).total_mah
        ratio = firmware / minimum
        if ratio >= worst.ratio:
            worst = AppFloor(
                profile_name, ce, len(wakes), [airpath.short(c) for c in air], ratio, host_s
            )
    return worst
