"""What the schedule required against what happened: the demo's loud-failure accounting.

Every figure comes from files the run leaves (the collector's SQLite rows with their device
times, the emulator's state timeline), so the same run gives the same figures, however busy
the host was. :func:`account` returns the figures and a list of failures, one line each:

* a sample slot (every ``read_interval`` device seconds after power-up, up to the end) with no
  reading taken (stored, or on the device's console) within half an interval after it;
* a reading lost (a sequence-number gap, or readings the device dropped from a full queue);
* a reading stored twice (same device, code, device time and value under two sequence numbers);
* an alarm (a meter or sensor event, codes 0x40-0x5F, raised: value != 0) delivered more than
  ``ALARM_BUDGET_S`` device seconds after it was raised, or, when the link was down then (the
  emulator's timeline: the modem off, booting or searching, as a Cat1 module powered down
  between reports is), after the link came up (its first RRC connection after the raise).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

#: an alarm must reach the collector within this many device seconds while the link is up
ALARM_BUDGET_S = 10.0
_EVENT_CODE = 0x40  # codes at or above are events (tamper, leak, boot...)
_DEVICE_CODE = 0x60  # codes at or above are the device's own records (boot, counters)
#: the meter's and the sensor's event codes: a record of one with a value != 0 is an alarm
ALARM_CODES = range(_EVENT_CODE, _DEVICE_CODE)
#: modem states of the emulator's timeline in which the device has no link (not registered)
LINK_DOWN = ("off", "boot", "search")


def rows(db: Path) -> list[dict[str, Any]]:
    """Every stored reading of the run (ordered by device, sequence number)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        cur = con.execute(
            "SELECT device, epoch, seq, t, code, name, value, received FROM readings "
            "ORDER BY device, epoch, seq"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def _slots(start: float, end: float, interval: int) -> list[float]:
    n = int((end - start) // interval)
    return [start + k * interval for k in range(1, n + 1)]


def _missed(readings: list[dict[str, Any]], slots: list[float], interval: int) -> list[float]:
    times = sorted(r["t"] for r in readings)
    missed, i = [], 0
    for slot in slots:
        while i < len(times) and times[i] < slot:
            i += 1
        if i == len(times) or times[i] >= slot + interval / 2:
            missed.append(slot)
    return missed


def _duplicates(stored: list[dict[str, Any]]) -> int:
    seen: set[tuple[Any, ...]] = set()
    dup = 0
    for r in stored:
        key = (r["device"], r["code"], r["t"], r["value"])
        dup += key in seen
        seen.add(key)
    return dup


def timeline_states(path: Path) -> list[tuple[float, str]]:
    """(device time, state) of every record of an emulator timeline (the energy model's
    reader, host_tools.energy.model.read_timeline)."""
    from host_tools.energy import model

    return [(r.t, r.state) for r in model.read_timeline(path)]


def link_up_at(states: list[tuple[float, str]], t: float) -> float:
    """The device time the link is up at or after ``t``: ``t`` when the modem was registered
    then (connected since it last went off, booted or searched; in PSM a UE stays registered),
    else its next RRC connection (``inf`` when none came)."""
    up = False
    for when, state in states:
        if when > t:
            if not up and state == "connected":
                return when
            if up:
                break
            continue
        if state in LINK_DOWN:
            up = False
        elif state == "connected":
            up = True
    return t if up else float("inf")


def _alarms(
    stored: list[dict[str, Any]], start: float, states: list[tuple[float, str]] | None
) -> list[dict[str, Any]]:
    out = []
    for r in stored:
        if r["code"] not in ALARM_CODES or not r["value"]:
            continue  # alarms are the meter's and the sensor's events, raised (value != 0)
        up = link_up_at(states, r["t"]) if states is not None else r["t"]
        out.append(
            {
                "name": r["name"],
                "value": r["value"],
                "raised_s": round(r["t"] - start, 3),
                "delivered_s": round(r["received"] - start, 3),
                "delay_s": round(r["received"] - r["t"], 3),
                # device s from the raise until the link was up (0: it was)
                "link_wait_s": round(min(up, r["received"]) - r["t"], 3),
            }
        )
    return out


def account(
    stored: list[dict[str, Any]],
    start: float,
    end: float,
    read_interval: int,
    dropped: int,
    *,
    taken_t: list[int] | None = None,
    states: list[tuple[float, str]] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Figures and failures of one device's run from ``start`` to ``end`` (device seconds).
    ``taken_t``: device times of the readings the device took (its console), so that a slot
    read but not yet reported counts as taken. ``states``: the modem's timeline
    (:func:`timeline_states`), so an alarm raised while the link was down is timed from the
    moment it came up."""
    readings = [r for r in stored if r["code"] < _EVENT_CODE]
    slots = _slots(start, end, read_interval)
    missed = _missed(readings + [{"t": t} for t in taken_t or []], slots, read_interval)
    seqs = sorted(r["seq"] for r in stored)
    gaps = (seqs[-1] + 1 - len(set(seqs))) if seqs else 0
    alarms = _alarms(stored, start, states)
    figures = {
        "readings_expected": len(slots),
        "slots_missed": len(missed),
        "readings_delivered": len([r for r in readings if start < r["t"] <= end]),
        "readings_lost": gaps + dropped,
        "duplicates_stored": _duplicates(stored),
        "alarms": alarms,
    }
    failures = [f"missed sample slot at {(t - start) / 3600:.2f} h" for t in missed[:10]]
    if len(missed) > 10:
        failures.append(f"... and {len(missed) - 10} more missed sample slots")
    if figures["readings_lost"]:
        failures.append(f"{figures['readings_lost']} readings lost ({gaps} sequence gaps)")
    if figures["duplicates_stored"]:
        failures.append(f"{figures['duplicates_stored']} readings stored twice")
    for a in alarms:
        if a["delay_s"] - a["link_wait_s"] > ALARM_BUDGET_S:
            waited = f", the link up {a['link_wait_s']:.1f} s after it" if a["link_wait_s"] else ""
            failures.append(
                f"alarm {a['name']}={a['value']} raised at {a['raised_s'] / 3600:.2f} h "
                f"delivered {a['delay_s']:.1f} s later{waited} (budget {ALARM_BUDGET_S:g} s)"
            )
    return figures, failures
