"""The M-Bus codec against real meters' frames (tests/vectors/mbus, from libmbus's test set),
and `nbkit meter decode mbus` on good and bad input."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from host_tools import REPO_ROOT
from host_tools.meterbus import bus, mbus, mbus_data
from host_tools.meterbus.persona_mbus import describe, value_text

VECTORS = Path(__file__).parent.parent / "vectors" / "mbus"
EXPECTED: dict[str, Any] = json.loads((VECTORS / "expected.json").read_text())
NAMES = sorted(k for k in EXPECTED if not k.startswith("_"))
_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400}


def _frame(name: str) -> bytes:
    return bytes.fromhex((VECTORS / f"{name}.hex").read_text().replace(" ", "").strip())


def _normalised(r: mbus_data.Record) -> tuple[Any, str]:
    """A record's value and unit as libmbus normalises them (SI, times in seconds)."""
    if isinstance(r.value, tuple):
        return value_text(r), ""
    if isinstance(r.value, str):
        return r.value, ""
    if r.quantity == "PW":  # a 16-byte binary number, shown by libmbus as hex
        return f"0x{r.value:032X}", ""
    value = r.value * 10.0**r.exp
    if r.unit in _SECONDS:
        return value * _SECONDS[r.unit], "s"
    return value, r.unit


@pytest.mark.parametrize("name", NAMES)
def test_real_meter_frames_decode_as_libmbus_decodes_them(name: str) -> None:
    want = EXPECTED[name]
    t = mbus_data.parse(mbus.decode(_frame(name)))
    h = t.header
    got = {
        "id": int(h.ident),
        "man": h.man,
        "version": h.version,
        "medium": h.medium,
        "access": h.access,
        "status": h.status,
    }
    assert got == want["header"]
    assert len(t.records) == want["records"]
    assert t.more == want["more"]
    if "mdata_len" in want:
        assert len(t.mdata) == want["mdata_len"]
    for i, quantity, value, unit, storage, tariff, subunit, function in want["checks"]:
        r = t.records[i]
        v, u = _normalised(r)
        where = f"{name} record {i}: {r}"
        assert (r.quantity, u) == (quantity, unit), where
        assert (r.storage, r.tariff, r.subunit, r.function) == (
            storage,
            tariff,
            subunit,
            function,
        ), where
        if isinstance(value, str):
            assert v == value, where
        else:
            assert v == pytest.approx(value, rel=1e-9, abs=1e-9), where


def _decode(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "host_tools", "meter", "decode", "mbus", *args],
        cwd=REPO_ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_decode_cli_prints_every_record_with_unit_storage_tariff_and_function() -> None:
    hex_text = (VECTORS / "kamstrup_multical_601.hex").read_text()
    out = _decode(hex_text, "--json")
    assert out.returncode == 0, out.stderr
    fields = json.loads(out.stdout)
    assert fields["header"]["manufacturer"] == "KAM"
    records = fields["records"]
    assert len(records) == 27
    assert records[1] == {
        "at": 25,
        "quantity": "energy",
        "value": "37351000",
        "unit": "Wh",
        "storage": 0,
        "tariff": 0,
        "subunit": 0,
        "function": "instantaneous",
        "dif": "0x04",
        "vif": "0x06",
    }
    assert records[19]["function"] == "maximum" and records[19]["storage"] == 1
    text = _decode(hex_text)
    assert text.returncode == 0 and "records (27)" in text.stdout
    assert "quantity=volume flow  value=0.628  unit=m3/h" in text.stdout


@pytest.mark.parametrize(
    ("hex_text", "message"),
    [
        ("68 A1 A1 68 08 00 72 45 33", "truncated frame: 9 of 167 bytes"),
        ("68 06 06 68 08 01 72 01 02 03 84 16", "bad checksum: CS is 0x84, computed 0x81"),
        ("68 06 07 68 08 01 72 01 02 03 81 16", "bad header: byte 2 is 0x07, not 0x06"),
        ("10 5B FE 00 16", "bad checksum"),
        ("68 06 06 68 08 01 72 01 02 03 81 17", "missing end byte"),
        ("68 06 06 68 08 01 78 04 13 01 99 16", "the 4-byte value of the record at byte 7"),
        ("01 02 03", "no 0x68, 0x10 or 0xE5"),
        ("68 04 04 68 08 01 70 07 80 16", "application error report (CI 0x70), error 0x07"),
        ("zz", "not a hex byte string"),
    ],
)
def test_decode_cli_names_the_byte_or_field_of_bad_input(hex_text: str, message: str) -> None:
    out = _decode(hex_text)
    assert out.returncode == 1, out
    assert message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_every_truncation_of_real_frames_is_a_clear_error() -> None:
    for name in NAMES:
        raw = _frame(name)
        for n in range(len(raw)):
            with pytest.raises(bus.FrameError):
                describe(raw[:n])


def test_corrupted_records_with_a_valid_checksum_never_crash_the_decoder() -> None:
    rng = random.Random(14)
    for name in NAMES:
        raw = bytearray(_frame(name))
        for _ in range(300):
            body = bytearray(raw)
            for _ in range(rng.randrange(1, 4)):
                body[rng.randrange(7, len(body) - 2)] = rng.randrange(256)
            body[-2] = sum(body[4:-2]) & 0xFF
            try:
                describe(bytes(body))
            except bus.FrameError:
                pass
