"""Li-SOCl2 bobbin cells: capacity vs temperature, self-discharge, and pulse capability.

A bobbin Li-SOCl2 cell (ER26500, ER34615) holds a lot of charge but delivers little current: a
modem's transmit burst can exceed what the cell gives, the more so when cold and near the end of
life. :func:`pulse_check` compares the burst with the cell and, when the cell falls short, sizes
the hybrid layer capacitor (HLC) or supercapacitor that carries the difference:
``C >= I_excess x t_burst / (V_start - V_min - I_excess x ESR)``.

Every figure below names its source or says "assumption"; the cell data live in
profiles/cells.json so a user can put their cell's datasheet in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from host_tools.energy.model import PROFILE_DIR, EnergyError


@dataclass(frozen=True)
class Cell:
    """Pulse and temperature data of one cell type (see profiles/cells.json)."""

    name: str
    pulse_ma: float  # pulse current at beginning of life, 20 C, keeping >= v_loaded
    eol_pulse_factor: float  # share of pulse_ma left near end of life
    v_loaded: float  # cell voltage under a pulse (V)
    capacity_vs_temp: tuple[tuple[float, float], ...]  # (deg C, share of nominal)
    self_discharge_doubling_c: float  # self-discharge doubles every this many C above 20 C
    cold_pulse: tuple[tuple[float, float], ...]  # (deg C, share of pulse_ma)
    sources: dict[str, str]

    def capacity_factor(self, temp_c: float) -> float:
        return _interp(self.capacity_vs_temp, temp_c)

    def self_discharge_factor(self, temp_c: float) -> float:
        return 2.0 ** (max(0.0, temp_c - 20.0) / self.self_discharge_doubling_c)

    def pulse_at(self, temp_c: float, end_of_life: bool) -> float:
        life = self.eol_pulse_factor if end_of_life else 1.0
        return self.pulse_ma * life * _interp(self.cold_pulse, temp_c)


def _interp(table: tuple[tuple[float, float], ...], x: float) -> float:
    if x <= table[0][0]:
        return table[0][1]
    for (x0, y0), (x1, y1) in zip(table, table[1:], strict=False):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return table[-1][1]


@cache
def cells() -> dict[str, Cell]:
    """Cell data by battery preset name (profiles/cells.json)."""
    data = json.loads((PROFILE_DIR / "cells.json").read_text())
    common: dict[str, Any] = data["common"]
    out = {}
    for name, raw in data["cells"].items():
        merged = {**common, **raw}
        out[name] = Cell(
            name=name,
            pulse_ma=float(merged["pulse_ma"]["value"]),
            eol_pulse_factor=float(merged["eol_pulse_factor"]["value"]),
            v_loaded=float(merged["v_loaded"]["value"]),
            capacity_vs_temp=tuple(tuple(p) for p in merged["capacity_vs_temp"]["value"]),
            self_discharge_doubling_c=float(merged["self_discharge_doubling_c"]["value"]),
            cold_pulse=tuple(tuple(p) for p in merged["cold_pulse"]["value"]),
            sources={k: v["source"] for k, v in merged.items() if isinstance(v, dict)},
        )
    return out


def get(name: str) -> Cell:
    table = cells()
    cell = table.get(name.upper())
    if cell is None:
        raise EnergyError(f"no pulse/temperature data for {name!r}; cells: {', '.join(table)}")
    return cell


#: the modem's lowest supply (BC95-class VBAT min): assumption until the module's datasheet is in
V_MIN_MODEM = 3.1
V_MIN_SOURCE = "assumption: BC95-class VBAT minimum 3.1 V (module datasheet range 3.1-4.2 V) [M]"
#: equivalent series resistance of the buffer (HLC / supercap): assumption
ESR_OHM = 0.3
ESR_SOURCE = "assumption: 0.3 ohm buffer ESR (HLC / supercapacitor of a few farads)"


@dataclass(frozen=True)
class PulseCheck:
    """Can the cell carry the modem's transmit burst at ``temp_c`` near end of life?"""

    burst_ma: float
    burst_s: float
    cell_ma: float
    temp_c: float
    capacitor_f: float  # 0 when the cell alone suffices

    @property
    def ok(self) -> bool:
        return self.burst_ma <= self.cell_ma

    def text(self) -> str:
        head = (
            f"TX burst {self.burst_ma:.0f} mA for {self.burst_s:.1f} s; the cell gives "
            f"{self.cell_ma:.0f} mA at end of life, {self.temp_c:g} C"
        )
        if self.ok:
            return head + ": OK without a buffer"
        return (
            head + f": NOT enough - add a hybrid layer capacitor or supercapacitor of "
            f">= {self.capacitor_f:.2f} F (carries {self.burst_ma - self.cell_ma:.0f} mA for "
            f"{self.burst_s:.1f} s from 3.6 V down to {V_MIN_MODEM} V)"
        )


def pulse_check(cell: Cell, burst_ma: float, burst_s: float, temp_c: float) -> PulseCheck:
    """Compare the burst with the cell at end of life; size the buffer if it falls short."""
    cell_ma = cell.pulse_at(temp_c, end_of_life=True)
    excess = max(0.0, burst_ma - cell_ma) / 1000.0
    farads = 0.0
    if excess > 0:
        swing = 3.6 - V_MIN_MODEM - excess * ESR_OHM
        if swing <= 0:
            raise EnergyError(
                f"a {burst_ma:.0f} mA burst cannot be buffered within {V_MIN_MODEM} V at "
                f"{ESR_OHM} ohm ESR: choose a lower-ESR buffer or a spiral (power) cell"
            )
        farads = excess * burst_s / swing
    return PulseCheck(burst_ma, burst_s, cell_ma, temp_c, farads)
