"""The emulator's small parts: AT input rules, 3GPP timer encodings, the virtual clock."""

from __future__ import annotations

import time

import pytest

from host_tools.emulator import timers3gpp
from host_tools.emulator.atparse import LineAssembler, ParseError, parse_line
from host_tools.emulator.clock import VirtualClock
from host_tools.errors import CommandError


def test_lines_end_with_cr_and_lf_is_ignored():
    asm = LineAssembler()
    assert asm.feed(b"AT\r\nAT+C") == [b"AT"]
    assert asm.feed(b"SQ\r") == [b"AT+CSQ"]


def test_an_overlong_line_is_reported_once_and_not_buffered():
    asm = LineAssembler(limit=8)
    assert asm.feed(b"AT+" + b"X" * 100) == []
    assert asm.feed(b"\rAT\r") == [None, b"AT"]
    assert asm.overlong_lines == 1


def test_parse_normalises_case_spaces_and_quotes():
    (cmd,) = parse_line(b'at+nsocr= dgram, 17 ,0,"1"')
    assert (cmd.text, cmd.name, cmd.kind, cmd.args) == (
        'AT+NSOCR=DGRAM,17,0,"1"',
        "+NSOCR",
        "set",
        ["DGRAM", "17", "0", "1"],
    )
    (cmd,) = parse_line(b'AT+CGDCONT=1,"IP","My APN;x"')
    assert cmd.args == ["1", "IP", "My APN;x"]  # quoted text keeps case, spaces and ';'


def test_parse_kinds_and_concatenation():
    cmds = parse_line(b"AT+CEREG=2;+NPSMR?;AT+CSCON=?;+CGMR")
    assert [(c.name, c.kind) for c in cmds] == [
        ("+CEREG", "set"), ("+NPSMR", "read"), ("+CSCON", "test"), ("+CGMR", "exec"),
    ]  # fmt: skip
    assert [c.name for c in parse_line(b"ATE1")] == ["E1"]
    assert [c.name for c in parse_line(b"AT")] == [""]


@pytest.mark.parametrize("line", [b"HELLO", b"AT+CSQ?x", b'AT+X="open', b"AT\xff", b"ATE1X"])
def test_malformed_lines_raise(line):
    with pytest.raises(ParseError):
        parse_line(line)


@pytest.mark.parametrize(
    "bits, seconds",
    [("01000111", 70 * 3600), ("00100001", 3600), ("00000111", 70 * 60), ("00111000", 24 * 3600),
     ("01100101", 10), ("10000011", 90), ("11100000", None)],
)  # fmt: skip
def test_t3412_periodic_tau(bits, seconds):
    assert timers3gpp.t3412_seconds(bits) == seconds


@pytest.mark.parametrize(
    "bits, seconds",
    [("00100100", 240), ("00000101", 10), ("00000000", 0), ("00000001", 2), ("11100000", None),
     ("01000010", 720), ("01100011", 180)],
)  # fmt: skip
def test_t3324_active_time(bits, seconds):
    assert timers3gpp.t3324_seconds(bits) == seconds


def test_encoding_round_trips_and_picks_the_smallest_unit():
    assert timers3gpp.encode_t3324(10) == "00000101"
    assert timers3gpp.encode_t3412(3600) == "00000110"  # 6 x 10 min (1 h units not needed)
    assert timers3gpp.encode_t3412(40) == "01110100"  # 20 x 2 s
    assert timers3gpp.encode_t3412(100) == "10000011"  # 30 s units, rounded
    for seconds in (2, 60, 600, 7200, 36000):
        assert timers3gpp.t3412_seconds(timers3gpp.encode_t3412(seconds)) == seconds


def test_edrx_nb_s1_mapping():
    assert timers3gpp.edrx_seconds("0101") == 81.92
    assert timers3gpp.edrx_seconds("0100") == 20.48  # not allowed on NB-S1: read as 0010
    assert timers3gpp.edrx_seconds("0000") is None
    assert timers3gpp.ptw_seconds("0011") == pytest.approx(10.24)
    with pytest.raises(ValueError):
        timers3gpp.edrx_seconds("01")


def test_virtual_clock_runs_scaled_and_round_trips_its_triple():
    clock = VirtualClock(time.time(), 1000.0, 3600.0)
    again = VirtualClock.parse(clock.triple())
    assert (again.epoch, again.scale) == (1000.0, 3600.0)
    assert again.wall_start == pytest.approx(clock.wall_start, abs=1e-6)
    assert 1000.0 <= clock.now() < 1000.0 + 3600.0 * 5
    assert clock.wall_delay(7200.0) == pytest.approx(2.0)


@pytest.mark.parametrize("text", ["1,2", "a,b,c", "1,2,0", "1,2,-5"])
def test_bad_clock_triples_are_refused(text):
    with pytest.raises(CommandError):
        VirtualClock.parse(text)
