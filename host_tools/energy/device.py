"""The whole device on the battery: modem + MCU + meter front-end + the cell's own losses.

``estimate(board, battery, schedule)`` answers "how many years for my schedule at my coverage":

* modem: the synthetic report cycle of :mod:`synth` under the board's modem profile (modem
  currents only);
* MCU: the board's ``power.mcu_active`` while the modem is in an active state (the profile's
  ``mcu.active_states``) and for ``power.mcu_wake`` seconds at every wake (sample, meter read,
  report), ``power.mcu_sleep`` the rest of the day;
* meter front-end: the pulse counter all day, and the meter-bus transceiver asleep except
  ``power.meterbus_read`` seconds at ``power.meterbus_active`` per meter read;
* battery: nominal capacity x temperature factor x (1 - derating), minus self-discharge that grows
  with temperature (:mod:`cell`); and the transmit burst against the cell's end-of-life pulse
  capability, with the buffer capacitor that closes any gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from host_tools.device import boards as board_data
from host_tools.energy import battery as batteries
from host_tools.energy import cell as cells
from host_tools.energy import synth
from host_tools.energy.model import EnergyError, Profile, load_profile


@dataclass(frozen=True)
class Schedule:
    """What the device does each day."""

    reports_per_day: float = 24.0
    payload: int = 50
    ce: int = 0
    mode: str = "psm-rai"
    meter_reads_per_day: float = 0.0
    wakes_per_day: float = 0.0  # MCU wakes (samples, reads); 0 = as many as reports or reads
    temp_c: float = 20.0
    expect_reply: bool = True


def parse_schedule(text: str, base: Schedule | None = None) -> Schedule:
    """``24/day``, ``1h``, ``15min``, ``daily``, or keys such as
    ``reports=24,payload=50,ce=1,reads=96,wakes=96,temp=-10,mode=a``; keys not given keep
    ``base``'s."""
    sched = base or Schedule()
    changes: dict[str, Any] = {}
    keys = {"reports": "reports_per_day", "payload": "payload", "ce": "ce", "mode": "mode"}
    keys |= {"reads": "meter_reads_per_day", "wakes": "wakes_per_day", "temp": "temp_c"}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            if not sep:
                changes["reports_per_day"] = _rate(part)
            elif name in ("reports", "reads", "wakes"):
                changes[keys[name]] = _rate(value)
            elif name == "mode":
                changes["mode"] = synth.mode_name(value)
            elif name in keys:
                changes[keys[name]] = float(value) if name == "temp" else int(value)
            else:
                raise ValueError(f"unknown key {name!r} (keys: {', '.join(keys)})")
        except ValueError as exc:
            raise EnergyError(f"--schedule {text!r}: {exc}") from exc
    return replace(sched, **changes)


def _rate(text: str) -> float:
    # reports (or reads) per day from "24/day", "24", "1h", "15min", "30s", "daily", "hourly"
    text = text.strip().lower()
    named = {"daily": 1.0, "hourly": 24.0}
    if text in named:
        return named[text]
    if text.endswith("/day"):
        return float(text[:-4])
    for unit, seconds in (("min", 60.0), ("h", 3600.0), ("s", 1.0), ("d", 86400.0)):
        if text.endswith(unit):
            return 86400.0 / (float(text[: -len(unit)]) * seconds)
    return float(text)


@dataclass
class Estimate:
    """Charge per day by consumer, the battery and the pulse check."""

    board: str
    battery: str
    schedule: Schedule
    per_day: dict[str, float] = field(default_factory=dict)  # consumer -> mAh/day
    usable_mah: float = 0.0
    self_discharge_mah_per_year: float = 0.0
    years: float = 0.0
    pulse: cells.PulseCheck | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def load_mah_per_day(self) -> float:
        return sum(self.per_day.values())

    def shares(self) -> dict[str, float]:
        """Where the charge goes over the life (self-discharge included), each a share of 1."""
        per_year = {k: v * batteries.DAYS_PER_YEAR for k, v in self.per_day.items()}
        per_year["self-discharge"] = self.self_discharge_mah_per_year
        total = sum(per_year.values())
        return {k: v / total for k, v in per_year.items()} if total else per_year

    def to_dict(self) -> dict[str, Any]:
        return {
            "board": self.board,
            "battery": self.battery,
            "schedule": self.schedule.__dict__,
            "per_day_mah": self.per_day,
            "load_mah_per_day": self.load_mah_per_day,
            "usable_mah": self.usable_mah,
            "self_discharge_mah_per_year": self.self_discharge_mah_per_year,
            "years": self.years,
            "shares": self.shares(),
            "pulse": None if self.pulse is None else {**self.pulse.__dict__, "ok": self.pulse.ok},
            "notes": self.notes,
        }


def _power(board: dict[str, Any], name: str, unit: str) -> float:
    return float(board["power"][name][unit])


def estimate(board_name: str, battery_name: str, sched: Schedule) -> Estimate:
    """The whole-device estimate for one board, battery and schedule."""
    try:
        board = board_data.load(board_name)
    except Exception as exc:  # CommandError: re-raise as the energy error the CLI maps
        raise EnergyError(str(exc)) from exc
    profile = load_profile(board["modem"]["model"])
    cell_preset = batteries.get(battery_name)
    cfg = synth.Config(
        reports_per_day=sched.reports_per_day,
        payload=sched.payload,
        ce=sched.ce,
        mode=synth.mode_name(sched.mode),
        expect_reply=sched.expect_reply,
    )
    cycle = synth.evaluate(cfg, profile)
    out = Estimate(board_name, cell_preset.name, sched)
    out.per_day["modem"] = cycle.modem_mah * sched.reports_per_day
    active_s = sum(c.seconds for s, c in cycle.by_state.items() if s in profile.mcu_active_states)
    active_day = active_s * sched.reports_per_day
    sleep_day = max(0.0, 86400.0 - active_day)
    out.per_day["mcu awake"] = _power(board, "mcu_active", "ma") * active_day / 3600.0
    wakes = sched.wakes_per_day or max(sched.reports_per_day, sched.meter_reads_per_day)
    wake_day = wakes * _power(board, "mcu_wake", "s")
    out.per_day["mcu wakes"] = _power(board, "mcu_active", "ma") * wake_day / 3600.0
    sleep_day = max(0.0, sleep_day - wake_day)
    out.per_day["mcu asleep"] = _power(board, "mcu_sleep", "ua") / 1000.0 * sleep_day / 3600.0
    out.per_day["pulse counter"] = _power(board, "pulse_counter", "ua") / 1000.0 * 24.0
    read_s = _power(board, "meterbus_read", "s") * sched.meter_reads_per_day
    out.per_day["meter bus"] = (
        _power(board, "meterbus_active", "ma") * read_s / 3600.0
        + _power(board, "meterbus_sleep", "ua") / 1000.0 * (86400.0 - read_s) / 3600.0
    )
    cell = cells.get(cell_preset.name)
    out.usable_mah = cell_preset.usable_mah * cell.capacity_factor(sched.temp_c)
    out.self_discharge_mah_per_year = cell_preset.self_discharge_mah_per_year * (
        cell.self_discharge_factor(sched.temp_c)
    )
    per_year = out.load_mah_per_day * batteries.DAYS_PER_YEAR + out.self_discharge_mah_per_year
    out.years = out.usable_mah / per_year if per_year > 0 else float("inf")
    out.pulse = cells.pulse_check(cell, _burst_ma(profile, sched.ce), _burst_s(cfg), sched.temp_c)
    if board["modem"]["model"] == "ec200" and cfg.mode != "off-attach":
        out.notes.append("the firmware powers a Cat1 modem off between reports: try mode=d")
    return out


def _burst_ma(profile: Profile, ce: int) -> float:
    # the modem's transmit current at this coverage level plus the MCU awake beside it
    return profile.modem_ma("tx", ce) + profile.mcu_active.ma


def _burst_s(cfg: synth.Config) -> float:
    return cfg.timing.tx_s(cfg.payload, cfg.ce)
