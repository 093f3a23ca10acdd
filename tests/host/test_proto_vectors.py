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
    data, n = frame.encode_data(case["device"], key, records, case["max_size"], case["epoch"])
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
        bytes([0x21])  # version 2, DATA
        + bytes([0x92, 0x08])  # device 1042 as LEB128
        + bytes([0x00])  # epoch 0
        + bytes([0x88, 0x27])  # seq 5000
        + struct.pack(">I", 1764000000)
        + bytes([codes.WATER_L])
        + bytes([0x80, 0x89, 0x0F])  # zigzag(123456) = 246912 as LEB128
    )
    expected = body + hmac.new(key, body, hashlib.sha256).digest()[:8]
    data, n = frame.encode_data(1042, key, [(5000, 1764000000, codes.WATER_L, 123456)])
    assert (data, n) == (expected, 1)
    assert len(data) == 22 == VECTORS["data"][0]["frame"].__len__() // 2


def test_ack_vectors_and_hand_built_ack() -> None:
    for case in VECTORS["ack"]:
        key, uplink = bytes.fromhex(case["key"]), bytes.fromhex(case["uplink"])
        args = (case["device"], key, case["first"], case["count"])
        data = frame.encode_ack(*args, epoch=case["epoch"], uplink=uplink)
        assert data.hex() == case["frame"]
    key = bytes(range(16))
    uplink = bytes(range(8))
    body = bytes([0x22, 0x92, 0x08, 3, 77, 16]) + uplink  # version 2 ACK, 1042, epoch 3
    assert (
        frame.encode_ack(1042, key, 77, 16, epoch=3, uplink=uplink)
        == body + hmac.new(key, body, hashlib.sha256).digest()[:8]
    )
    body = bytes([0x23, 0x92, 0x08, 4]) + uplink  # version 2 EPOCH: move to epoch 4
    assert (
        frame.encode_epoch(1042, key, 4, uplink)
        == body + hmac.new(key, body, hashlib.sha256).digest()[:8]
    )
    for case in VECTORS["epoch"]:
        key, uplink = bytes.fromhex(case["key"]), bytes.fromhex(case["uplink"])
        data = frame.encode_epoch(case["device"], key, case["epoch"], uplink)
        assert data.hex() == case["frame"]
