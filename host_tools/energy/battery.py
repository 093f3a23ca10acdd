"""Battery presets (3.6 V Li-SOCl2) and the battery-life arithmetic.

Life in years = usable capacity / (load per year + self-discharge per year), with
usable = nominal x (1 - derating) and self-discharge a share of the nominal capacity per year
(the worked illustration of power-and-meters.md 2.2). Presets live in profiles/batteries.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from host_tools.energy.model import PROFILE_DIR, EnergyError

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Battery:
    """A cell: nominal capacity, derating and self-discharge, with the source of the figures."""

    name: str
    capacity_mah: float
    derating: float
    self_discharge_pct_per_year: float
    source: str = ""
    size: str = ""

    @property
    def usable_mah(self) -> float:
        return self.capacity_mah * (1.0 - self.derating)

    @property
    def self_discharge_mah_per_year(self) -> float:
        return self.capacity_mah * self.self_discharge_pct_per_year / 100.0

    def years(self, mah_per_day: float) -> float:
        """Years until the usable capacity is drawn at ``mah_per_day`` plus self-discharge."""
        if mah_per_day < 0:
            raise EnergyError(f"a load cannot be negative ({mah_per_day} mAh/day)")
        per_year = mah_per_day * DAYS_PER_YEAR + self.self_discharge_mah_per_year
        return self.usable_mah / per_year if per_year > 0 else float("inf")


@cache
def presets() -> dict[str, Battery]:
    """The bundled presets by name (ER14505, ER18505, ER26500, ER34615)."""
    data = json.loads((PROFILE_DIR / "batteries.json").read_text())
    out: dict[str, Battery] = {}
    for name, raw in data["batteries"].items():
        out[name] = Battery(
            name=name,
            capacity_mah=float(raw["capacity_mah"]),
            derating=float(raw["derating"]),
            self_discharge_pct_per_year=float(raw["self_discharge_pct_per_year"]),
            source=str(raw.get("source", "")),
            size=str(raw.get("size", "")),
        )
    return out


def get(name: str) -> Battery:
    """A preset by name (case-insensitive); a clear error lists the known ones."""
    table = presets()
    battery = table.get(name.upper())
    if battery is None:
        raise EnergyError(f"unknown battery {name!r}; presets: {', '.join(table)}")
    return battery
