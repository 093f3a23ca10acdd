"""The AT driver bench suite measures in MicroPython and reports figures a person can check."""

from __future__ import annotations

from host_tools.bench import at as bench_at
from host_tools.bench.command import SUITES, Report


def test_at_bench_counts_the_round_trips_of_one_attach_and_send() -> None:
    figures = bench_at.measure()
    # AT, ATE0, CMEE, NCONFIG?, CEREG=2, CSCON=1, NPSMR=1, CFUN=1, CGATT=1, NSOCR, NSOST
    assert figures["attach_send_round_trips"] == 11, figures
    assert figures["receive_round_trips"] == 2, figures  # one NSORF + the empty re-check
    assert 0 < figures["peak_heap_above_baseline"] <= bench_at.PEAK_TARGET, figures
    assert figures["attach_send_bytes_out"] > 100 and figures["attach_send_bytes_in"] > 100


def test_at_bench_is_a_registered_suite_that_reports_figures() -> None:
    assert SUITES["at-driver"] == "host_tools.bench.at"
    report = Report(quiet=True)
    bench_at.run(report)
    names = [row["name"] for row in report.rows]
    assert "AT round trips per attach+send" in names, names
    assert all(row["suite"] == "at-driver" for row in report.rows), report.rows
