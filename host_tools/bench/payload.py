"""Bench suite: bytes per uplink of the nbkit frame next to JSON and CBOR of the same data.

The same readings (15-minute water meter index, realistic device id and sequence numbers)
are encoded three ways in this run. JSON and CBOR carry no authentication; the nbkit frame
includes its 8-byte HMAC tag.
"""

from __future__ import annotations

import json
from typing import Any

import cbor2
from nbkit.proto import codes, frame

DEVICE = 1042
KEY = bytes(range(16))
SEQ0 = 5000
T0 = 1764000000


def _readings(n: int) -> list[tuple[int, int, int, int]]:
    return [(SEQ0 + i, T0 + 900 * i, codes.WATER_L, 123456 + 9 * i) for i in range(n)]


def _document(records: list[tuple[int, int, int, int]]) -> dict[str, Any]:
    return {
        "device": DEVICE,
        "seq": records[0][0],
        "readings": [{"t": t, "kind": codes.name(c), "value": v} for _, t, c, v in records],
    }


def run(report: Any) -> None:
    report.heading("payload", "Bytes per uplink: nbkit frame vs JSON vs CBOR (same readings)")
    for n in (1, 4, 16):
        records = _readings(n)
        data, packed = frame.encode_data(DEVICE, KEY, records)
        assert packed == n
        doc = _document(records)
        as_json = json.dumps(doc, separators=(",", ":")).encode()
        as_cbor = cbor2.dumps(doc)
        report.figure(f"{n:>2} readings: nbkit frame (with 8 B tag)", len(data), "bytes")
        report.figure(f"{n:>2} readings: JSON, compact (no tag)", len(as_json), "bytes")
        report.figure(f"{n:>2} readings: CBOR, cbor2 (no tag)", len(as_cbor), "bytes")
        report.figure(
            f"{n:>2} readings: frame / JSON", round(len(data) / len(as_json), 3), "ratio"
        )
    per = (
        len(frame.encode_data(DEVICE, KEY, _readings(16))[0])
        - len(frame.encode_data(DEVICE, KEY, _readings(1))[0])
    ) / 15
    report.figure("each further 15-minute reading in a frame", round(per, 2), "bytes")
