"""PNG plots of the energy model (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from host_tools.energy import synth
from host_tools.energy.battery import Battery
from host_tools.energy.model import EnergyError, Profile, Record, integrate

#: report rates of the battery-life curve (reports per day)
LIFE_RATES = (1, 2, 4, 6, 12, 24, 48, 96)
_CE_COLOURS = ("tab:green", "tab:orange", "tab:red")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _steps(records: list[Record], end: float, profile: Profile) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for i, rec in enumerate(records):
        until = records[i + 1].t if i + 1 < len(records) else end
        current = profile.total_ma(rec.state, rec.ce)
        xs += [rec.t, until]
        ys += [current, current]
    return xs, ys


def _current_plot(plt: Any, xs: list[float], ys: list[float], linewidth: float) -> Any:
    """(figure, axes) with a battery current trace filled below, on a log current scale."""
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    ax.plot(xs, ys, color="tab:blue", linewidth=linewidth)
    ax.fill_between(xs, ys, 1e-3, color="tab:blue", alpha=0.15)
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 1000)
    return fig, ax


def _save(plt: Any, fig: Any, ax: Any, path: Path) -> Path:
    """Grid, layout, write the file, free the figure."""
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_cycle(cfg: synth.Config, profile: Profile, path: Path) -> Path:
    """Battery current over one report (wake to rest, plus a margin), log scale, by state."""
    plt = _pyplot()
    records, end = synth.transaction(cfg)
    charge = synth.report_charge(cfg, profile)
    rest_state = synth.cycle(cfg)[0][-1].state
    margin = max(5.0, 0.15 * end)
    records = [*records, Record(end, rest_state, cfg.ce)]
    xs, ys = _steps(records, end + margin, profile)
    fig, ax = _current_plot(plt, xs, ys, linewidth=1.6)
    for i, rec in enumerate(records):
        until = records[i + 1].t if i + 1 < len(records) else end + margin
        if until - rec.t >= 0.08 * (end + margin) or rec.state == "tx":
            ax.annotate(
                rec.state,
                ((rec.t + until) / 2, profile.total_ma(rec.state, rec.ce)),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=8,
            )
    ax.set_xlim(0, end + margin)
    ax.set_xlabel("time since wake (s)")
    ax.set_ylabel("battery current (mA, log)")
    ax.set_title(
        f"{profile.model}: {synth.MODE_TITLES[synth.mode_name(cfg.mode)]}, CE{cfg.ce}, "
        f"{cfg.payload} B\none report = {charge.total_mah:.4f} mAh, "
        f"modem awake {charge.duration_s:.1f} s",
        fontsize=10,
    )
    return _save(plt, fig, ax, path)


def plot_timeline(
    records: list[Record],
    end: float | None,
    profile: Profile,
    path: Path,
    title: str,
    *,
    modem: str | None = None,
) -> Path:
    """Battery current over a recorded timeline (log scale) against device hours since its
    first record; the modem that recorded it (``modem``) and the charge in the title."""
    if not records:
        raise EnergyError("the timeline is empty")
    plt = _pyplot()
    stop = records[-1].t if end is None else end
    xs, ys = _steps(records, stop, profile)
    start = records[0].t
    hours = [(x - start) / 3600 for x in xs]
    result = integrate(records, profile, end=end)
    fig, ax = _current_plot(plt, hours, ys, linewidth=1.2)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(start))
    ax.set_xlabel(f"device time (hours since {when})")
    ax.set_ylabel("battery current (mA, log)")
    recorded = f"recorded from a {modem} modem" if modem else "modem model not recorded"
    ax.set_title(
        f"{profile.model} energy profile, {recorded}: {title}\n"
        f"{result.total_mah:.4f} mAh over {result.duration_s / 3600:.1f} h, "
        f"{result.reports} reports",
        fontsize=10,
    )
    return _save(plt, fig, ax, path)


def life_curve(
    cfg: synth.Config, profile: Profile, battery: Battery, ce: int
) -> tuple[list[float], list[float]]:
    """(report intervals in hours, battery years) over :data:`LIFE_RATES` at coverage ``ce``."""
    hours: list[float] = []
    years: list[float] = []
    for rate in LIFE_RATES:
        one = replace(cfg, reports_per_day=float(rate), ce=ce)
        try:
            result = synth.evaluate(one, profile)
        except EnergyError:
            continue  # this mode cannot report that often
        hours.append(24.0 / rate)
        years.append(battery.years(result.total_mah * rate))
    return hours, years


def plot_life(cfg: synth.Config, profile: Profile, battery: Battery, path: Path) -> Path:
    """Battery life (years) vs report interval for CE0/CE1/CE2."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    for ce in (0, 1, 2):
        hours, years = life_curve(cfg, profile, battery, ce)
        ax.plot(hours, years, marker="o", color=_CE_COLOURS[ce], label=f"CE{ce}")
    for target in (10, 15):
        ax.axhline(target, color="grey", linestyle="--", linewidth=0.8)
        ax.annotate(f"{target} years", (0.26, target), fontsize=8, color="grey", va="bottom")
    ax.set_xscale("log")
    ax.set_xticks([0.25, 0.5, 1, 2, 4, 6, 12, 24])
    ax.set_xticklabels(["15 min", "30 min", "1 h", "2 h", "4 h", "6 h", "12 h", "24 h"])
    ax.set_xlabel("report interval")
    ax.set_ylabel(f"battery life on {battery.name} (years)")
    ax.set_title(
        f"{profile.model}: {synth.MODE_TITLES[synth.mode_name(cfg.mode)]}, {cfg.payload} B, "
        f"{battery.name} {battery.capacity_mah / 1000:g} Ah, derated {battery.derating:.0%}",
        fontsize=10,
    )
    ax.legend(title="coverage")
    return _save(plt, fig, ax, path)


def write_plots(
    cfg: synth.Config, profile: Profile, battery: Battery, directory: Path
) -> list[Path]:
    """Write cycle-current.png and battery-life.png into ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        plot_cycle(cfg, profile, directory / "cycle-current.png"),
        plot_life(cfg, profile, battery, directory / "battery-life.png"),
    ]
