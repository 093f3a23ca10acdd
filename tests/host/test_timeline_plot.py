"""The energy plot of a recorded timeline: device hours on x, the recording modem named."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from host_tools.emulator.records import Timeline
from host_tools.energy import model, plots

START = 1_764_000_000.0


def recorded(tmp_path: Path) -> Path:
    stream = io.StringIO()
    timeline = Timeline(stream, "BC28")
    for t, state in ((0, "boot"), (3, "search"), (30, "connected"), (3600, "psm"), (7200, "tx")):
        timeline.enter(START + t, state, 0)
    path = tmp_path / "timeline.jsonl"
    path.write_text(stream.getvalue())
    return path


def test_the_emulator_timeline_names_its_modem_and_still_reads_as_records(tmp_path):
    path = recorded(tmp_path)
    assert json.loads(path.read_text().splitlines()[0]) == {"model": "BC28"}
    assert model.timeline_model(path) == "BC28"
    assert [r.state for r in model.read_timeline(path)] == [
        "boot",
        "search",
        "connected",
        "psm",
        "tx",
    ]


def test_a_timeline_without_header_has_no_model(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"t": 1.0, "state": "boot", "ce": 0}) + "\n")
    assert model.timeline_model(path) is None


def test_the_timeline_plot_is_in_device_hours_and_names_the_modem(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    seen: dict[str, Any] = {}

    def keep(plt: Any, fig: Any, ax: Any, path: Path) -> Path:
        seen.update(
            xlabel=ax.get_xlabel(), title=ax.get_title(), xmax=max(ax.lines[0].get_xdata())
        )
        plt.close(fig)
        return path

    monkeypatch.setattr(plots, "_save", keep)
    path = recorded(tmp_path)
    profile = model.load_profile("bc28")
    records = model.read_timeline(path)
    plots.plot_timeline(
        records, START + 3 * 3600, profile, tmp_path / "p.png", "run", modem="BC28"
    )
    assert seen["xlabel"] == "device time (hours since 2025-11-24 16:00 UTC)"
    assert seen["xmax"] == pytest.approx(3.0)  # hours, not epoch seconds
    assert "recorded from a BC28 modem" in seen["title"]
