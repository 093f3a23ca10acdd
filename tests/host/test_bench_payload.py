"""The payload bench measures all three encodings in one run, for 1, 4 and 16 readings."""

from __future__ import annotations

from host_tools.bench import payload as bench_payload
from host_tools.bench.command import Report


def test_payload_figures_for_1_4_16_readings() -> None:
    report = Report(quiet=True)
    bench_payload.run(report)
    sizes = {row["name"]: row["value"] for row in report.rows}
    for n in (" 1", " 4", "16"):
        frame = sizes[f"{n} readings: nbkit frame (with 8 B tag)"]
        cbor = sizes[f"{n} readings: CBOR, cbor2 (no tag)"]
        json_ = sizes[f"{n} readings: JSON, compact (no tag)"]
        assert frame < cbor < json_, (n, frame, cbor, json_)
    assert sizes[" 1 readings: nbkit frame (with 8 B tag)"] <= 24
