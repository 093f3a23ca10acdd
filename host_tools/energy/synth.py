"""Synthetic modem state timelines for a reporting configuration, on the emulator's timing model.

One report cycle starts when the report starts and lasts one report interval. Four modes:

* ``psm-rai`` (a): wake from PSM, send with NSOSTF 0x200/0x400, RRC released ~1-2 s later,
  T3324 in idle, back to PSM; no re-attach.
* ``psm`` (b): the same without release assistance: RRC stays connected for the network's
  inactivity timer (~20 s) before idle + T3324 + PSM.
* ``no-psm`` (c): stays registered in idle DRX (or eDRX) between reports; sends with RAI.
* ``off-attach`` (d): the modem is powered off between reports: boot, search + attach, send,
  detach (CFUN=0) and off again.

Periodic TAU: when the interval exceeds T3412 the modem wakes on its own every T3412 for a short
signalling exchange; those wakes are part of the cycle (and of the charge per report).

Timing parameters (:class:`Timing`, from host_tools/energy/timing.py: the defaults the emulator
uses too, each with its source) are in seconds; the per-CE ones are tuples for CE0, CE1, CE2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from host_tools.energy.model import EnergyError, Profile, Record, Result, integrate
from host_tools.energy.timing import IP_UDP_OVERHEAD_BYTES, Timing

__all__ = ["IP_UDP_OVERHEAD_BYTES", "MODES", "Config", "Timing"]  # Timing lives in timing.py

MODES = ("psm-rai", "psm", "no-psm", "off-attach")
MODE_ALIASES = {"a": "psm-rai", "b": "psm", "c": "no-psm", "d": "off-attach"}
MODE_TITLES = {
    "psm-rai": "(a) PSM + RAI, no re-attach",
    "psm": "(b) PSM without RAI",
    "no-psm": "(c) no PSM (idle DRX/eDRX)",
    "off-attach": "(d) power off + re-attach per report",
}
#: a periodic TAU this close to the next report is not modelled (the report restarts T3412)
_TAU_ROOM_S = 120.0


def mode_name(mode: str) -> str:
    """Canonical mode name from a name or its letter a-d."""
    name = MODE_ALIASES.get(mode.lower(), mode.lower())
    if name not in MODES:
        raise EnergyError(
            f"unknown mode {mode!r}; modes: a={MODES[0]}, b={MODES[1]}, c={MODES[2]}, d={MODES[3]}"
        )
    return name


@dataclass(frozen=True)
class Config:
    """What the device does: reports per day, payload, coverage, mode, reply expected."""

    reports_per_day: float = 24.0
    payload: int = 50
    ce: int = 0
    mode: str = "psm-rai"
    expect_reply: bool = False
    idle_state: str = "idle"  # "idle" (DRX) or "edrx" between reports in mode no-psm
    timing: Timing = field(default_factory=Timing)

    @property
    def interval_s(self) -> float:
        return 86400.0 / self.reports_per_day


class _Builder:
    def __init__(self, ce: int) -> None:
        self.t = 0.0
        self.ce = ce
        self.records: list[Record] = []

    def go(self, state: str, seconds: float) -> None:
        if seconds <= 0:
            return
        if self.records and self.records[-1].state == state:
            self.t += seconds
            return
        self.records.append(Record(self.t, state, self.ce))
        self.t += seconds

    def rest(self, state: str) -> None:
        self.records.append(Record(self.t, state, self.ce))


def _check(cfg: Config) -> None:
    if not cfg.reports_per_day > 0:
        raise EnergyError(f"reports per day must be > 0, got {cfg.reports_per_day}")
    if cfg.ce not in (0, 1, 2):
        raise EnergyError(f"coverage level must be 0, 1 or 2, got {cfg.ce}")
    if cfg.payload < 0 or cfg.payload > 1358:
        raise EnergyError(f"payload must be 0..1358 bytes (BC95/BC28 NSOST), got {cfg.payload}")
    if cfg.idle_state not in ("idle", "edrx"):
        raise EnergyError(f"idle state must be idle or edrx, got {cfg.idle_state!r}")


def _send(b: _Builder, cfg: Config, tail_s: float) -> None:
    tm, ce = cfg.timing, cfg.ce
    b.go("connected", tm.rrc_setup_s[ce])
    b.go("tx", tm.tx_s(cfg.payload, ce))
    if cfg.expect_reply:
        b.go("connected", tm.reply_wait_s[ce])
    b.go("connected", tail_s)


def _tau(b: _Builder, cfg: Config, after_state: str) -> None:
    tm, ce = cfg.timing, cfg.ce
    b.go("connected", tm.rrc_setup_s[ce])
    b.go("tx", tm.tx_base_s[ce])
    b.go("connected", tm.rai_release_s)
    if after_state == "psm":
        b.go("idle", tm.t3324_s)


def _transaction(cfg: Config) -> tuple[_Builder, str]:
    # one report from wake to the rest state; returns the builder and the rest state
    _check(cfg)
    mode = mode_name(cfg.mode)
    tm, ce = cfg.timing, cfg.ce
    b = _Builder(ce)
    if mode == "off-attach":
        b.go("boot", tm.boot_s)
        b.go("search", tm.attach_s[ce])
        b.go("tx", tm.tx_s(cfg.payload, ce))
        if cfg.expect_reply:
            b.go("connected", tm.reply_wait_s[ce])
        b.go("connected", tm.detach_s)
        return b, "off"
    if mode == "no-psm":
        _send(b, cfg, tm.rai_release_s)
        return b, cfg.idle_state
    _send(b, cfg, tm.rai_release_s if mode == "psm-rai" else tm.rrc_inactivity_s)
    b.go("idle", tm.t3324_s)
    return b, "psm"


def transaction(cfg: Config) -> tuple[list[Record], float]:
    """One report alone, from the wake to the modem's rest state: (records, end time).

    The rest state is PSM (a, b), idle DRX/eDRX (c) or off (d); the idle T3324 before PSM is
    part of the report. Integrate with ``end`` to get the charge and awake time per report.
    """
    b, _rest = _transaction(cfg)
    return list(b.records), b.t


def cycle(cfg: Config) -> tuple[list[Record], float]:
    """One report cycle: (records starting at t=0, end time = the report interval)."""
    b, rest = _transaction(cfg)
    tm = cfg.timing
    interval = cfg.interval_s
    if b.t > interval:
        raise EnergyError(
            f"{cfg.reports_per_day:g} reports/day leave {interval:.0f} s per report, less than "
            f"the {b.t:.0f} s one report keeps the modem awake in mode {mode_name(cfg.mode)}"
        )
    if rest != "off" and interval > tm.t3412_s:
        # the last uplink restarted T3412; the modem does a periodic TAU every T3412 after it
        taus = math.ceil(interval / tm.t3412_s) - 1
        for k in range(1, taus + 1):
            if k * tm.t3412_s + _TAU_ROOM_S > interval:
                break  # the next report comes first and restarts T3412
            b.go(rest, k * tm.t3412_s - b.t)
            _tau(b, cfg, rest)
    b.rest(rest)
    return b.records, interval


def timeline(cfg: Config, cycles: int) -> tuple[list[Record], float]:
    """``cycles`` report cycles back to back: (records, end time)."""
    if cycles < 1:
        raise EnergyError("need at least one cycle")
    one, length = cycle(cfg)
    out: list[Record] = []
    for k in range(cycles):
        out.extend(Record(r.t + k * length, r.state, r.ce) for r in one)
    return out, cycles * length


def evaluate(cfg: Config, profile: Profile) -> Result:
    """Charge of one report cycle of ``cfg`` under ``profile`` (reports = 1)."""
    records, end = cycle(cfg)
    return integrate(records, profile, end=end, reports=1)


def report_charge(cfg: Config, profile: Profile) -> Result:
    """Charge and awake time of one report transaction (see :func:`transaction`)."""
    records, end = transaction(cfg)
    return integrate(records, profile, end=end, reports=1)
