"""The timer codecs under CPython, with the same vector file the MicroPython tests use."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from nbkit.lte import timers

_spec = importlib.util.spec_from_file_location(
    "timer_vectors", Path(__file__).resolve().parent.parent / "firmware" / "timer_vectors.py"
)
assert _spec and _spec.loader
V: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(V)


@pytest.mark.parametrize(("bits", "seconds"), V.T3412_DECODE)
def test_t3412_decode(bits: str, seconds: int | None) -> None:
    assert timers.decode_t3412(bits) == seconds


@pytest.mark.parametrize(("want", "bits", "got"), V.T3412_ENCODE)
def test_t3412_encode(want: float | None, bits: str, got: int | None) -> None:
    assert timers.encode_t3412(want) == (bits, got)


@pytest.mark.parametrize("want", V.T3412_IMPOSSIBLE)
def test_t3412_impossible(want: float) -> None:
    with pytest.raises(ValueError, match="T3412"):
        timers.encode_t3412(want)


@pytest.mark.parametrize(("bits", "seconds"), V.T3324_DECODE)
def test_t3324_decode(bits: str, seconds: int | None) -> None:
    assert timers.decode_t3324(bits) == seconds


@pytest.mark.parametrize(("want", "bits", "got"), V.T3324_ENCODE)
def test_t3324_encode(want: float | None, bits: str, got: int | None) -> None:
    assert timers.encode_t3324(want) == (bits, got)


@pytest.mark.parametrize("want", V.T3324_IMPOSSIBLE)
def test_t3324_impossible(want: float) -> None:
    with pytest.raises(ValueError, match="T3324"):
        timers.encode_t3324(want)


@pytest.mark.parametrize(("act", "bits", "ms"), V.EDRX_DECODE)
def test_edrx_decode(act: int, bits: str, ms: int | None) -> None:
    assert timers.decode_edrx_ms(bits, act) == ms


@pytest.mark.parametrize(("act", "bits", "used"), V.EDRX_READ_AS)
def test_edrx_read_as(act: int, bits: str, used: str | None) -> None:
    assert timers.edrx_read_as(bits, act) == used


@pytest.mark.parametrize(("act", "want", "bits", "ms"), V.EDRX_ENCODE)
def test_edrx_encode(act: int, want: float, bits: str, ms: int) -> None:
    assert timers.encode_edrx(want, act) == (bits, ms)


@pytest.mark.parametrize(("act", "want"), V.EDRX_IMPOSSIBLE)
def test_edrx_impossible(act: int, want: float) -> None:
    with pytest.raises(ValueError, match="eDRX"):
        timers.encode_edrx(want, act)


@pytest.mark.parametrize(("act", "bits", "ms"), V.PTW_DECODE)
def test_ptw_decode(act: int, bits: str, ms: int) -> None:
    assert timers.decode_ptw_ms(bits, act) == ms


@pytest.mark.parametrize(("act", "want", "bits", "ms"), V.PTW_ENCODE)
def test_ptw_encode(act: int, want: float, bits: str, ms: int) -> None:
    assert timers.encode_ptw(want, act) == (bits, ms)


@pytest.mark.parametrize(("act", "want"), V.PTW_IMPOSSIBLE)
def test_ptw_impossible(act: int, want: float) -> None:
    with pytest.raises(ValueError, match="PTW"):
        timers.encode_ptw(want, act)


@pytest.mark.parametrize("bits", V.MALFORMED_BITS)
def test_malformed_bits(bits: Any) -> None:
    with pytest.raises(ValueError):
        timers.decode_t3412(bits)
