"""The energy model against published measurements of NB-IoT modules.

Each :class:`Case` names a published figure, where it is written (document, section/table), the
conditions of the measurement and how the model computes the same quantity under the closest
conditions it has. Nothing here feeds back into the model: the profiles keep their own sources,
and a case whose ratio falls outside :data:`TOLERANCE` says why (the stated difference in
conditions) instead of moving a parameter toward the published value.

Figures whose source is the same document as a model parameter are marked ``same_source``: they
check the arithmetic (state x duration x current), not the parameter itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from host_tools.energy import synth
from host_tools.energy.model import Profile, load_profile
from host_tools.energy.timing import DEFAULT

#: model / published within 1 +/- this is "agrees"
TOLERANCE = 0.25
#: the cells of the published figures are quoted at 3.6 V (u-blox: "@ 3.6V")
VOLTS = 3.6
#: TR 45.820 5.4's battery for lifetime evaluations: 5 Wh, leakage ignored
TR45820_BATTERY_MAH = 5000.0 / VOLTS

UBLOX = (
    "u-blox NB-IoT Application Development Guide UBX-16017368 (SARA-N2, Boudica = the BC95 "
    "chipset), as quoted in D. Robinson, 'LTE Cat-NB Performance Evaluation', Stellenbosch 2019, "
    "github.com/dan-leo/masters thesis/v8/2_litstudy.md"
)
LUAT = (
    "LuatOS / Hezhou, 'Air780EQ AT low-power' guide, docs.openluat.com/air780eq/at/app/command/"
    "lowpower, section 1.2 table 'typical power' (test setup: Air780EQ at 3.8 V, China Mobile, "
    "RSRP about -88 dBm, 100-byte TCP heartbeat every 5 minutes)"
)
JOERKE = (
    "P. Joerke, R. Falkenberg, C. Wietfeld, 'Power Consumption Analysis of NB-IoT and eMTC in "
    "Challenging Smart City Environments', IEEE Globecom Workshops 2018, lifetime results as "
    "summarised in wyrls.com 'NB-IoT basics part 2: power saving'"
)


@dataclass(frozen=True)
class Case:
    """One published figure and the model's value for the same quantity."""

    source: str  # short name used in the bench figure name
    quantity: str
    published: float
    unit: str
    where: str  # document and section/table where the number is written
    conditions: str  # conditions of the published measurement
    model_conditions: str  # what the model computes
    model: Callable[[Profile], float]
    explanation: str = ""  # why a ratio outside the tolerance does not indict the model
    same_source: bool = False
    profile: str = "bc95"  # the modem profile the model uses for this case

    def ratio(self, profile: Profile) -> float:
        return self.model(profile) / self.published


def _air_mah(cfg: synth.Config, profile: Profile) -> float:
    # charge of the radio part of one report: RRC connected + TX (no MCU, no T3324 idle)
    modem = 0.0
    records, end = synth.transaction(cfg)
    for i, rec in enumerate(records):
        until = records[i + 1].t if i + 1 < len(records) else end
        if rec.state in ("connected", "tx"):
            modem += profile.modem_ma(rec.state, rec.ce) * (until - rec.t) / 3600.0
    return modem


def _rai_saving(profile: Profile) -> float:
    # share of the no-RAI radio charge that RAI saves: 200 B at CE1
    a = _air_mah(synth.Config(payload=200, ce=1, mode="psm-rai"), profile)
    b = _air_mah(synth.Config(payload=200, ce=1, mode="psm"), profile)
    return 1.0 - a / b


def _cat1_keepalive_ma(profile: Profile) -> float:
    # average modem current: registered in idle, 100 B over TCP every 5 min; Cat1 has no release
    # assistance, so every report keeps RRC connected for the inactivity timer
    timing = replace(DEFAULT, rai_release_s=DEFAULT.rrc_inactivity_s)
    cfg = synth.Config(reports_per_day=288, payload=100, mode="no-psm", timing=timing)
    cycle = synth.evaluate(cfg, profile)
    return cycle.modem_mah / (cycle.duration_s / 3600.0)


def _lifetime(ce: int) -> Callable[[Profile], float]:
    def years(profile: Profile) -> float:
        cfg = synth.Config(reports_per_day=1, payload=84, ce=ce, mode="psm-rai")
        per_day = synth.evaluate(cfg, profile).modem_mah  # modem only, as the study
        return TR45820_BATTERY_MAH / per_day / 365.25

    return years


CASES: tuple[Case, ...] = (
    Case(
        source="u-blox SARA-N2",
        quantity="RRC connected 20 s inactivity",
        published=1.0 / VOLTS,
        unit="mAh",
        where=UBLOX + ", section 'RRC Connection and Inactivity Timer': '20 s of inactivity ... "
        "about 1 mWh @ 3.6V'",
        conditions="20 s RRC connected (C-DRX) before the network's release, 3.6 V",
        model_conditions="20 s in state connected (CE1) x the profile's connected current",
        model=lambda p: 20.0 * p.modem_ma("connected", 1) / 3600.0,
        same_source=True,
    ),
    Case(
        source="u-blox SARA-N2",
        quantity="200 B uplink ECL2 good SNR, energy at the published duration",
        published=0.200 / VOLTS,
        unit="mAh",
        where=UBLOX + ", section 'Release Assistance': '200 byte message in ECL 2 with good SNR "
        "... just over 1 second, consuming 200uWh'",
        conditions="ECL2, good SNR, 1 repetition, ~1 s on the air, with release assistance",
        model_conditions="1.0 s at the profile's CE2 TX current (tests the current, not timing)",
        model=lambda p: 1.0 * p.modem_ma("tx", 2) / 3600.0,
    ),
    Case(
        source="u-blox SARA-N2",
        quantity="200 B uplink ECL2 bad SNR, energy at the published duration",
        published=1.07 / VOLTS,
        unit="mAh",
        where=UBLOX + ", section 'Release Assistance': 'in bad SNR ... It took 5.5 seconds and "
        "consumed 1.07mWh'",
        conditions="ECL2, bad SNR, repetitions 8 and 4, 5.5 s, with release assistance",
        model_conditions="5.5 s at the profile's CE2 TX current (tests the current, not timing)",
        model=lambda p: 5.5 * p.modem_ma("tx", 2) / 3600.0,
    ),
    Case(
        source="u-blox SARA-N2",
        quantity="200 B uplink ECL2 bad SNR, energy by the model's CE2 timing",
        published=1.07 / VOLTS,
        unit="mAh",
        where=UBLOX + ", section 'Release Assistance' (as above)",
        conditions="ECL2, bad SNR, repetitions 8 and 4, 5.5 s, with release assistance",
        model_conditions="RRC setup + TX + release of a 200 B RAI uplink at CE2 (timing.py)",
        model=lambda p: _air_mah(synth.Config(payload=200, ce=2, mode="psm-rai"), p),
        explanation="the model's CE2 timings (rrc_setup 4 s, TX 4 s + 32 ms/B) are assumptions "
        "for the 164 dB MCL edge with the maximum repetitions; the u-blox case used repetitions "
        "8 and 4 (5.5 s). The model is conservative at CE2 until a CE2 duration is measured",
    ),
    Case(
        source="u-blox SARA-N2",
        quantity="RAI saving, 200 B at ECL1",
        published=0.93,
        unit="share",
        where=UBLOX + ", section 'Release Assistance': 'a 93% improvement in power consumption "
        "for a 200 byte transmission in ECL 1'",
        conditions="200 B at ECL1, release assistance vs the 20 s inactivity timer",
        model_conditions="1 - (radio charge with RAI / without), 200 B at CE1, psm-rai vs psm",
        model=_rai_saving,
        explanation="the guide does not state what the 93 % is taken over (the tail alone or "
        "the whole transmission); the model counts RRC setup and TX (3.2 s at CE1, assumed "
        "timings) in both, which RAI cannot save",
    ),
    Case(
        source="u-blox SARA-N2",
        quantity="deep sleep (PSM) current",
        published=0.003,
        unit="mA",
        where=UBLOX + ", section 'Power Saving Mechanisms': 'Deep Sleep mode where the module is "
        "running at very low current, ~3 uA'",
        conditions="module in deep sleep / PSM",
        model_conditions="profile psm current (from the BC95-G spec sheet, not this guide)",
        model=lambda p: p.modem_ma("psm", 0),
    ),
    Case(
        source="Air780EQ (Cat1)",
        quantity="average current, 100 B TCP every 5 min, low-power mode",
        published=0.5,
        unit="mA",
        where=LUAT + ": low-power mode, 'online, long connection', typical power '0.5mA'",
        conditions="Cat1 module registered with a TCP long connection, 100 B every 5 minutes, "
        "good coverage (RSRP -88 dBm), the module's own low-power mode",
        model_conditions="ec200 profile (every figure an assumption): idle DRX between "
        "reports, 100 B every 5 min at CE0, 20 s inactivity tail per report (no RAI on Cat1)",
        model=_cat1_keepalive_ma,
        profile="ec200",
        explanation="the ec200 profile is assumptions only (40 mA connected, 1.5 mA idle); the "
        "published module averages 0.5 mA with a report every 5 minutes, so a Cat1 network "
        "releases sooner and/or the connected and idle currents are lower than assumed. A "
        "different module (Air780EQ, 3.8 V): evidence that the Cat1 estimate is pessimistic, "
        "not a figure to fit",
    ),
    Case(
        source="Joerke 2018",
        quantity="lifetime 84 B/day at 144 dB MCL",
        published=25.0,
        unit="years",
        where=JOERKE + ": '144 dB ... 25 years for a payload of 84 bytes transmitted once a day'",
        conditions="84 B once a day, 144 dB coupling loss, their measured UE power model",
        model_conditions="modem only, PSM+RAI, 84 B/day at CE0, 5 Wh (TR 45.820 5.4) battery",
        model=_lifetime(0),
        explanation="the summary states neither the battery nor the PSM floor nor whether "
        "release assistance was used; at 1 report/day the PSM floor (3 uA = 0.072 mAh/day) is "
        "two thirds of the model's budget, so a different floor moves the lifetime most",
    ),
    Case(
        source="Joerke 2018",
        quantity="lifetime 84 B/day at 154 dB MCL",
        published=18.0,
        unit="years",
        where=JOERKE + ": '154 dB ... close to 18 years'",
        conditions="84 B once a day, 154 dB coupling loss",
        model_conditions="modem only, PSM+RAI, 84 B/day at CE1, 5 Wh battery",
        model=_lifetime(1),
        explanation="see 144 dB: battery and floor of the study are not stated in the summary",
    ),
    Case(
        source="Joerke 2018",
        quantity="lifetime 84 B/day at 164 dB MCL",
        published=4.0,
        unit="years",
        where=JOERKE + ": '164 dB coupling loss, the battery life is four years'",
        conditions="84 B once a day, 164 dB coupling loss (the NB-IoT MCL edge)",
        model_conditions="modem only, PSM+RAI, 84 B/day at CE2, 5 Wh battery",
        model=_lifetime(2),
        explanation="at 164 dB the study's UE transmits with the maximum repetitions on every "
        "channel (random access, control and data); the model's CE2 keeps one RRC setup and "
        "one TX block. Battery and floor are not stated in the summary",
    ),
)


@dataclass(frozen=True)
class Row:
    """A case evaluated: published, model, ratio and verdict."""

    case: Case
    model: float
    ratio: float

    @property
    def within(self) -> bool:
        return abs(self.ratio - 1.0) <= TOLERANCE

    @property
    def verdict(self) -> str:
        if self.within:
            return "within 25 %"
        return "outside 25 %: " + (self.case.explanation or "no explanation")

    @property
    def name(self) -> str:
        return f"validation: {self.case.source}: {self.case.quantity}"

    @property
    def note(self) -> str:
        c = self.case
        same = " (same document as the model parameter: arithmetic check)" if c.same_source else ""
        return (
            f"published {c.published:.4g} {c.unit} ({c.conditions}); model {self.model:.4g} "
            f"{c.unit} ({c.model_conditions}){same}; {self.verdict}"
        )


def evaluate(profile: Profile | None = None) -> list[Row]:
    """Every case, each under its own bundled profile (``profile`` replaces the bc95 one)."""
    rows = []
    for case in CASES:
        own = profile if profile is not None and case.profile == "bc95" else None
        value = case.model(own or load_profile(case.profile))
        rows.append(Row(case, value, value / case.published))
    return rows
