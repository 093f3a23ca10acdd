"""Per-state current profiles and the integration of a modem state timeline into charge.

A timeline is the emulator's JSON Lines output (docs/architecture.md): one record per state
entry, ``{"t": <virtual seconds>, "state": "<name>", "ce": <0-2>}``; a state lasts until the next
record. Charge = sum over records of current(state, ce) x duration, plus the MCU (active in the
profile's ``active_states``, asleep otherwise) and a constant board floor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"

#: modem states of the timeline, in the order the reports list them
STATES = ("off", "boot", "search", "connected", "tx", "awake", "idle", "edrx", "psm")
#: states a profile may leave out, with the state whose figure stands in (a profile written
#: before the emulator recorded UART wakes: the module awake on its UART draws about idle)
OPTIONAL_STATES = {"awake": "idle"}
#: states in which the modem is not awake (awake time excludes these)
ASLEEP = ("off", "psm", "edrx")  # edrx: asleep between paging windows
CE_LEVELS = (0, 1, 2)
MAX_TIMELINE_RECORDS = 2_000_000


class EnergyError(ValueError):
    """A profile or timeline that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Figure:
    """One current with the place it comes from (or "assumption ...")."""

    ma: float
    source: str


@dataclass(frozen=True)
class Profile:
    """Currents of one modem model and its MCU, loaded from profiles/<model>.json."""

    model: str
    description: str
    modem: dict[str, tuple[Figure, Figure, Figure]]  # state -> figure per CE level
    mcu_sleep: Figure
    mcu_active: Figure
    floor: Figure
    mcu_active_states: frozenset[str]
    path: Path | None = None

    def modem_ma(self, state: str, ce: int, edrx: tuple[float, float] | None = None) -> float:
        """Modem current in mA in ``state`` at coverage level ``ce``. An ``edrx`` state with its
        (cycle s, paging window s): idle DRX current for the window's share of each cycle plus
        the PSM floor between windows (the profile's own eDRX figure is this for 81.92 s and
        10.24 s); without them, the profile's figure."""
        if state == "edrx" and edrx is not None:
            cycle, window = edrx
            return self.modem["idle"][ce].ma * min(1.0, window / cycle) + self.modem["psm"][ce].ma
        return self.modem[state][ce].ma

    def mcu_ma(self, state: str) -> float:
        """MCU current while the modem is in ``state``."""
        return (self.mcu_active if state in self.mcu_active_states else self.mcu_sleep).ma

    def total_ma(self, state: str, ce: int) -> float:
        """Battery current: modem + MCU + board floor."""
        return self.modem_ma(state, ce) + self.mcu_ma(state) + self.floor.ma

    def figures(self) -> Iterator[tuple[str, Figure]]:
        """Every figure with a readable name, e.g. ('tx ce1', Figure(167.0, ...))."""
        for state in STATES:
            per_ce = self.modem[state]
            if per_ce[0] == per_ce[1] == per_ce[2]:
                yield state, per_ce[0]
            else:
                for ce in CE_LEVELS:
                    yield f"{state} ce{ce}", per_ce[ce]
        yield "mcu sleep", self.mcu_sleep
        yield "mcu active", self.mcu_active
        yield "board floor", self.floor


def _figure(raw: Any, where: str) -> Figure:
    if not isinstance(raw, dict) or "ma" not in raw:
        raise EnergyError(f"{where}: expected {{'ma': <mA>, 'source': '...'}}, got {raw!r}")
    ma, source = raw["ma"], raw.get("source")
    if isinstance(ma, bool) or not isinstance(ma, (int, float)) or ma < 0:
        raise EnergyError(f"{where}: 'ma' must be a number >= 0, got {ma!r}")
    if not isinstance(source, str) or not source.strip():
        raise EnergyError(f"{where}: every figure needs a 'source' (or 'assumption: ...')")
    return Figure(float(ma), source)


def _per_ce(raw: Any, where: str) -> tuple[Figure, Figure, Figure]:
    if isinstance(raw, dict) and "ma" not in raw and all(f"ce{c}" in raw for c in CE_LEVELS):
        return (
            _figure(raw["ce0"], f"{where}.ce0"),
            _figure(raw["ce1"], f"{where}.ce1"),
            _figure(raw["ce2"], f"{where}.ce2"),
        )
    one = _figure(raw, where)
    return (one, one, one)


def profile_from_dict(data: dict[str, Any], path: Path | None = None) -> Profile:
    """Build a :class:`Profile` from the JSON structure of a profile file."""
    where = str(path) if path else "profile"
    try:
        modem_raw, mcu_raw = data["modem"], data["mcu"]
    except (KeyError, TypeError) as exc:
        raise EnergyError(f"{where}: needs 'modem' and 'mcu' sections") from exc
    missing = [s for s in STATES if s not in modem_raw and s not in OPTIONAL_STATES]
    if missing:
        raise EnergyError(f"{where}: modem states missing: {', '.join(missing)}")
    modem = {s: _per_ce(modem_raw[s], f"{where}: modem.{s}") for s in STATES if s in modem_raw}
    for state, stand_in in OPTIONAL_STATES.items():
        modem.setdefault(state, modem[stand_in])
    active = mcu_raw.get("active_states", ["boot", "search", "connected", "tx", "awake"])
    unknown = [s for s in active if s not in STATES]
    if unknown:
        raise EnergyError(f"{where}: mcu.active_states has unknown states {unknown}")
    return Profile(
        model=str(data.get("model", where)),
        description=str(data.get("description", "")),
        modem=modem,
        mcu_sleep=_figure(mcu_raw.get("sleep"), f"{where}: mcu.sleep"),
        mcu_active=_figure(mcu_raw.get("active"), f"{where}: mcu.active"),
        floor=_figure(mcu_raw.get("floor"), f"{where}: mcu.floor"),
        mcu_active_states=frozenset(active),
        path=path,
    )


def profile_names() -> list[str]:
    """Registry models (nbkit/modem/models.py) with a bundled profile (profiles/<model>.json)."""
    from nbkit.modem import models

    return sorted(m for m in models.names() if (PROFILE_DIR / f"{m}.json").is_file())


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a bundled profile by model name (``bc95``) or any profile JSON file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILE_DIR / f"{name_or_path}.json"
        if not path.is_file():
            raise EnergyError(
                f"no energy profile for {name_or_path!r}; known: {', '.join(profile_names())}"
            )
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise EnergyError(f"cannot read profile {path}: {exc.strerror}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EnergyError(f"{path}: not valid JSON ({exc})") from exc
    return profile_from_dict(data, path)


@dataclass(frozen=True)
class Record:
    """One timeline record: the modem entered ``state`` at ``t`` seconds, at coverage ``ce``."""

    t: float
    state: str
    ce: int = 0
    #: (cycle s, paging time window s) of an ``edrx`` record, when the timeline says
    edrx: tuple[float, float] | None = None


def parse_record(raw: Any, where: str) -> Record:
    """Validate one decoded JSON record."""
    if not isinstance(raw, dict):
        raise EnergyError(f"{where}: a record must be a JSON object, got {raw!r}")
    t, state, ce = raw.get("t"), raw.get("state"), raw.get("ce", 0)
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise EnergyError(f"{where}: 't' must be a number of seconds, got {t!r}")
    if state not in STATES:
        raise EnergyError(f"{where}: unknown state {state!r} (known: {', '.join(STATES)})")
    if ce not in CE_LEVELS or isinstance(ce, bool):
        raise EnergyError(f"{where}: 'ce' must be 0, 1 or 2, got {ce!r}")
    edrx = raw.get("edrx")
    if edrx is not None:
        ok = isinstance(edrx, list) and len(edrx) == 2
        ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in edrx)
        if not ok or not 0 < edrx[1] <= edrx[0]:
            raise EnergyError(f"{where}: 'edrx' must be [cycle s, window s], got {edrx!r}")
        edrx = (float(edrx[0]), float(edrx[1]))
    return Record(float(t), str(state), int(ce), edrx)


def timeline_model(path: str | Path) -> str | None:
    """The modem model a timeline's header line names (``{"model": "BC28"}``), or None."""
    try:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline()
        head = json.loads(first) if first.strip() else {}
    except (OSError, json.JSONDecodeError):
        return None
    model = head.get("model") if isinstance(head, dict) else None
    return str(model) if isinstance(model, str) else None


def read_timeline(path: str | Path) -> list[Record]:
    """Read a JSON Lines timeline; blank lines and the ``{"model"}`` header are skipped,
    anything else must be a record."""
    records: list[Record] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EnergyError(f"{where}: not JSON ({exc.msg})") from exc
                if number == 1 and isinstance(raw, dict) and set(raw) == {"model"}:
                    continue  # the header: which modem recorded it (timeline_model)
                records.append(parse_record(raw, where))
                if len(records) > MAX_TIMELINE_RECORDS:
                    raise EnergyError(f"{path}: more than {MAX_TIMELINE_RECORDS} records")
    except OSError as exc:
        raise EnergyError(f"cannot read timeline {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise EnergyError(f"{path}: not a JSON Lines text file ({exc.reason})") from exc
    return records


@dataclass
class StateCharge:
    """Time spent and charge drawn in one state."""

    seconds: float = 0.0
    mah: float = 0.0


@dataclass
class Result:
    """Charge of a timeline: totals, per state, per report, per day."""

    duration_s: float
    reports: int
    modem_mah: float
    mcu_mah: float
    floor_mah: float
    awake_s: float
    by_state: dict[str, StateCharge] = field(default_factory=dict)
    #: UART wakes from PSM/off the DTE caused (retries, failed sends, probes): count_wakes
    wakes: int = 0

    @property
    def total_mah(self) -> float:
        return self.modem_mah + self.mcu_mah + self.floor_mah

    @property
    def per_day_mah(self) -> float:
        return self.total_mah * 86400.0 / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def per_report_mah(self) -> float | None:
        return self.total_mah / self.reports if self.reports else None

    @property
    def awake_per_report_s(self) -> float | None:
        return self.awake_s / self.reports if self.reports else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_s": self.duration_s,
            "reports": self.reports,
            "total_mah": self.total_mah,
            "modem_mah": self.modem_mah,
            "mcu_mah": self.mcu_mah,
            "floor_mah": self.floor_mah,
            "per_day_mah": self.per_day_mah,
            "per_report_mah": self.per_report_mah,
            "awake_s": self.awake_s,
            "awake_per_report_s": self.awake_per_report_s,
            "wakes": self.wakes,
            "by_state": {
                s: {"seconds": c.seconds, "mah": c.mah} for s, c in self.by_state.items()
            },
        }


def count_wakes(records: Iterable[Record]) -> int:
    """UART wakes in a timeline: entries into ``awake`` from a sleeping state (ASLEEP)."""
    count, previous = 0, None
    for rec in records:
        if rec.state == "awake" and previous in ASLEEP:
            count += 1
        previous = rec.state
    return count


def count_reports(records: Iterable[Record]) -> int:
    """Reports in a timeline: the number of entries into ``tx`` (each report transmits once)."""
    count, previous = 0, None
    for rec in records:
        if rec.state == "tx" and previous != "tx":
            count += 1
        previous = rec.state
    return count


def integrate(
    records: list[Record], profile: Profile, end: float | None = None, reports: int | None = None
) -> Result:
    """Charge of ``records`` under ``profile``.

    The last record lasts until ``end`` (default: its own time, i.e. zero length). ``reports``
    overrides the count of reports (default: :func:`count_reports`).
    """
    if not records:
        raise EnergyError("the timeline is empty")
    stop = records[-1].t if end is None else float(end)
    result = Result(
        duration_s=stop - records[0].t,
        reports=count_reports(records) if reports is None else reports,
        modem_mah=0.0,
        mcu_mah=0.0,
        floor_mah=0.0,
        awake_s=0.0,
        by_state={s: StateCharge() for s in STATES},
        wakes=count_wakes(records),
    )
    for i, rec in enumerate(records):
        until = records[i + 1].t if i + 1 < len(records) else stop
        seconds = until - rec.t
        if seconds < 0:
            raise EnergyError(f"record {i + 1}: time goes backwards ({rec.t} -> {until})")
        hours = seconds / 3600.0
        modem = profile.modem_ma(rec.state, rec.ce, rec.edrx) * hours
        mcu = profile.mcu_ma(rec.state) * hours
        floor = profile.floor.ma * hours
        result.modem_mah += modem
        result.mcu_mah += mcu
        result.floor_mah += floor
        slot = result.by_state[rec.state]
        slot.seconds += seconds
        slot.mah += modem + mcu + floor
        if rec.state not in ASLEEP:
            result.awake_s += seconds
    return result
