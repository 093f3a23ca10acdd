"""Where the charge goes: a bar chart of the whole-device estimate (new plots; the energy plot's
time axis lives in plots.py)."""

from __future__ import annotations

from pathlib import Path

from host_tools.energy.device import Estimate
from host_tools.energy.plots import _pyplot


def plot_breakdown(est: Estimate, path: Path) -> Path:
    """Horizontal bars: share of the battery each consumer takes over the life."""
    plt = _pyplot()
    shares = sorted(est.shares().items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(8, 4), dpi=110)
    ax.barh([k for k, _ in shares], [100 * v for _, v in shares], color="tab:blue")
    for i, (_, v) in enumerate(shares):
        ax.text(100 * v + 0.5, i, f"{100 * v:.1f} %", va="center", fontsize=8)
    s = est.schedule
    ax.set_xlabel("share of the charge drawn over the battery's life (%)")
    ax.set_title(
        f"{est.board} on {est.battery}: {s.reports_per_day:g} reports/day, CE{s.ce}, "
        f"{s.temp_c:g} C -> {est.years:.1f} years",
        fontsize=9,
    )
    ax.set_xlim(0, 110)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
