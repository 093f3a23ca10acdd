"""The codec on CPython: same shared vectors as the MicroPython test, checked against hmac."""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from pathlib import Path

import pytest
from nbkit.proto import auth, codes, frame

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "proto_vectors.json").read_text())


@pytest.mark.parametrize("case", VECTORS["hmac"], ids=lambda c: c["msg"][:16])
def test_hmac_equals_cpython_hmac(case: dict) -> None:
    key, msg = bytes.fromhex(case["key"]), bytes.fromhex(case["msg"])
    expected = hmac.new(key, msg, hashlib.sha256).digest()
    assert auth.hmac_sha256(key, msg) == expected
    assert expected.hex() == case["mac"]


def test_rfc4231_case_1_is_the_published_value() -> None:
    mac = auth.hmac_sha256(b"\x0b" * 20, b"Hi There").hex()
    assert mac == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"


@pytest.mark.parametrize("case", VECTORS["data"], ids=lambda c: c["name"])
def test_data_vectors(case: dict) -> None:
    records = [tuple(r) for r in case["records"]]
    key = bytes.fromhex(case["key"])
    data, n = frame.encode_data(case["device"], key, records, case["max_size"])
    assert data.hex() == case["frame"]
    assert n == case["packed"]
    assert frame.decode_data(data, key) == (case["device"], records[:n])


@pytest.mark.parametrize("case", VECTORS["bad"], ids=lambda c: c["name"])
def test_bad_vectors(case: dict) -> None:
    with pytest.raises(frame.FrameError) as err:
        frame.parse(bytes.fromhex(case["frame"]))
    assert err.value.reason == case["reason"]


def test_one_reading_frame_built_by_hand_matches_the_layout_table() -> None:
    """Independent construction from the layout comment in frame.py (not from the encoder)."""
    key = bytes(range(16))
    body = (
        bytes([0x11])  # version 1, DATA
        + bytes([0x92, 0x08])  # device 1042 as LEB128
        + bytes([0x88, 0x27])  # seq 5000
        + struct.pack(">I", 1764000000)
        + bytes([codes.WATER_L])
        + bytes([0x80, 0x89, 0x0F])  # zigzag(123456) = 246912 as LEB128
    )
    expected = body + hmac.new(key, body, hashlib.sha256).digest()[:8]
    data, n = frame.encode_data(1042, key, [(5000, 1764000000, codes.WATER_L, 123456)])
    assert (data, n) == (expected, 1)
    assert len(data) == 21 == VECTORS["data"][0]["frame"].__len__() // 2


def test_ack_vectors_and_hand_built_ack() -> None:
    for case in VECTORS["ack"]:
        key = bytes.fromhex(case["key"])
        data = frame.encode_ack(case["device"], key, case["first"], case["count"])
        assert data.hex() == case["frame"]
    key = bytes(range(16))
    body = bytes([0x12, 0x92, 0x08, 77, 16])
    assert (
        frame.encode_ack(1042, key, 77, 16)
        == body + hmac.new(key, body, hashlib.sha256).digest()[:8]
    )
