"""The emulator's small parts: AT input rules, 3GPP timer encodings, the virtual clock."""

from __future__ import annotations

import time

import pytest
from nbkit.lte import timers

from host_tools.emulator.atparse import LineAssembler, ParseError, parse_line
from host_tools.emulator.clock import VirtualClock
from host_tools.emulator.network import edrx_seconds
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
    assert timers.decode_t3412(bits) == seconds


@pytest.mark.parametrize(
    "bits, seconds",
    [("00100100", 240), ("00000101", 10), ("00000000", 0), ("00000001", 2), ("11100000", None),
     ("01000010", 720), ("01100011", 180)],
)  # fmt: skip
def test_t3324_active_time(bits, seconds):
    assert timers.decode_t3324(bits) == seconds


def test_the_emulator_reads_timers_by_the_firmware_table():
    # one 3GPP timer table (firmware/nbkit/lte/timers.py): what the emulated network grants is
    # read exactly as the device reads it
    assert edrx_seconds("0101") == 81.92
    assert edrx_seconds("0100") == 20.48  # not allowed on NB-S1: read as 0010
    assert edrx_seconds("0000") is None
    assert timers.decode_ptw_ms("0011") == 10240
    with pytest.raises(ValueError, match="4-character bit string"):
        edrx_seconds("01")


def test_the_emulators_own_wall_clock_runs_scaled_and_a_shared_triple_round_trips():
    clock = VirtualClock(time.time(), 1000.0, 3600.0)  # --time-scale 3600, no --clock
    assert 1000.0 <= clock.now() < 1000.0 + 3600.0 * 5
    assert clock.wall_delay(7200.0) == pytest.approx(2.0)
    shared = VirtualClock(time.time(), 1000.0, 1.0)
    again = VirtualClock.parse(shared.triple())
    assert (again.epoch, again.scale) == (1000.0, 1.0)
    assert again.wall_start == pytest.approx(shared.wall_start, abs=1e-6)


def test_a_shared_clock_triple_at_another_scale_is_refused_naming_the_time_master():
    with pytest.raises(CommandError, match="runs at SCALE 1.*--clock sim:HOST:PORT:CHAN"):
        VirtualClock.parse("1764000000,1764000000,3600")


@pytest.mark.parametrize("text", ["1,2", "a,b,c", "1,2,0", "1,2,-5"])
def test_bad_clock_triples_are_refused(text):
    with pytest.raises(CommandError):
        VirtualClock.parse(text)
