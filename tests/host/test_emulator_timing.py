"""Device time for work is modelled, not measured: UART bit time and per-persona response times.

Everything here runs on a manual clock (tests/host/emulator_support.stepped): time moves only
when the test moves it, so every figure is exact and no test sleeps.
"""

from __future__ import annotations

import os

import pytest

from host_tools.emulator.reactor import Reactor, UartOutput
from host_tools.emulator.records import Spy
from host_tools.emulator.response_times import TIMINGS, timing_for
from host_tools.emulator.uart import UartInput, bit_time
from tests.host.emulator_support import ManualClock, options, stepped

OK = b"\r\nOK\r\n"


def test_a_byte_costs_ten_bits_at_the_baud_rate():
    assert bit_time(960, 9600) == pytest.approx(1.0)
    assert bit_time(1, 115200) == pytest.approx(10 / 115200)


def _output(baud: int = 9600) -> tuple[ManualClock, Reactor, UartOutput, int]:
    clock = ManualClock(100.0)
    reactor = Reactor(clock)
    r, w = os.pipe()
    os.set_blocking(r, False)
    out = UartOutput(reactor, w, Spy(None, reactor.now), lambda _want: None, baud=baud)
    return clock, reactor, out, r


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


def test_uart_output_delivers_each_chunk_after_the_previous_one_plus_its_bit_time():
    clock, reactor, out, r = _output()
    out.write(b"a" * 96)  # 0.1 s on the wire
    out.write(b"b" * 48)  # queued behind it: 0.05 s more
    out.write(b"c" * 96, delay=1.0)  # not before 1 s from now, then its own 0.1 s
    seen = []
    for t in (100.0999, 100.1, 100.1499, 100.15, 101.0999, 101.1):
        clock.t = t
        reactor.run_due()
        seen.append(_read(r))
    assert seen == [b"", b"a" * 96, b"", b"b" * 48, b"", b"c" * 96]
    reactor.close()


def test_uart_input_hands_each_line_over_when_its_last_byte_has_arrived():
    clock = ManualClock(0.0)
    reactor = Reactor(clock)
    got: list[tuple[float, bytes]] = []
    woke: list[tuple[float, float]] = []
    uart = UartInput(
        reactor,
        9600,
        lambda data: got.append((reactor.now(), data)),
        on_activity=lambda first, last, _data: woke.append((first, last)),
    )
    uart.feed(b"AT+CGMI\r\nATI\r")  # 13 bytes written at once: two lines
    assert woke == [(0.0, pytest.approx(13 * 10 / 9600))]  # awake at the first byte
    reactor.run_due()
    assert got == []
    clock.t = 1.0
    reactor.run_due()
    assert got == [
        (pytest.approx(9 * 10 / 9600), b"AT+CGMI\r\n"),
        (pytest.approx(13 * 10 / 9600), b"ATI\r"),
    ]
    reactor.close()


def _delivered(t0: float, reads: list[bytes]) -> list[tuple[float, bytes]]:
    clock = ManualClock(t0)
    reactor = Reactor(clock)
    got: list[tuple[float, bytes]] = []
    uart = UartInput(reactor, 9600, lambda data: got.append((reactor.now(), data)))
    for chunk in reads:  # written at one instant, read in these pieces
        uart.feed(chunk)
    clock.t = t0 + 10
    reactor.run_due()
    reactor.close()
    return got


def test_how_the_pty_cuts_a_burst_into_reads_changes_no_delivery_time_by_a_bit():
    # at device epochs (1.7e9 s) a float's last bit is 0.24 us: times summed piece by piece
    # would differ with the cut and flip a microsecond in the timeline (host-dependent)
    t0 = 1_764_014_431.1
    burst = b"AT+QISEND=0,95\r" + b"AB" * 47 + b"C\r\nAT\r"
    whole = _delivered(t0, [burst])
    assert [d for _, d in whole] == [b"AT+QISEND=0,95\r", b"AB" * 47 + b"C\r\n", b"AT\r"]
    for cut in range(len(burst)):
        split = _delivered(t0, [burst[:cut], burst[cut:]])
        assert b"".join(d for _, d in split) == burst
        # each piece when its last byte is in: the burst's start plus that byte's bit time,
        # computed the same way whatever the cut (float ==, not approx)
        n = 0
        for t, data in split:
            n += len(data)
            assert t == t0 + bit_time(n, 9600), (cut, n)


def test_a_command_is_answered_after_its_bit_time_response_time_and_answer_bit_time():
    with stepped() as rig:
        start = rig.now
        answer, _ = rig.command("AT+CGSN=1")
        # 10 bytes in, the persona's default response time, then the answer's own bytes
        due = start + bit_time(10, 9600) + timing_for("bc28").default.seconds
        due += bit_time(len(answer), 9600)
        assert answer.endswith(OK)
        # the answer appears exactly at its due time, not a step earlier
        rig.send("AT+CGSN=1\r")
        t0 = rig.now
        rig.advance_to(t0 + (due - start) - 1e-6)
        assert rig.read() == b""
        rig.advance_to(t0 + (due - start) + 1e-9)
        assert rig.read() == answer


@pytest.mark.parametrize(
    "command, family",
    [("AT+CFUN=0", "AT+CFUN=0"), ("AT+CFUN=1", "AT+CFUN=1"), ("AT+CSQ", "AT+CSQ")],
)
def test_each_command_family_answers_after_its_modelled_response_time(command, family):
    delay = dict(TIMINGS["bc28"].families)[family].seconds
    with stepped() as rig:
        sent = rig.now
        answer, at = rig.command(command, step=0.0005)
        wire = bit_time(len(command) + 1, 9600) + bit_time(len(answer), 9600)
        assert at - sent == pytest.approx(delay + wire, abs=0.001)


def test_a_faster_uart_shortens_the_exchange():
    fast = options()
    fast.baud = 115200
    for opts, baud in ((options(), 9600), (fast, 115200)):
        with stepped(opts) as rig:
            sent = rig.now
            answer, at = rig.command("AT+CGSN=1", step=0.0001)
            wire = bit_time(10 + len(answer), baud)
            assert at - sent == pytest.approx(wire + 0.005, abs=2e-4)  # 5 ms of modelled work


def test_an_nrb_reboot_lasts_the_boot_time_after_rebooting():
    with stepped(options(boot_time=3.0)) as rig:
        rig.send("AT+NRB\r")
        rig.advance(0.1)
        assert b"REBOOTING" in rig.read()
        rig.advance(2.8)
        assert rig.read() == b""  # still booting
        rig.advance(0.35)  # 3 s boot, then ~110 banner bytes at 9600 baud
        assert rig.read().endswith(b"Neul\r\nOK\r\n")


def test_every_persona_has_a_sourced_timing_table():
    from host_tools.emulator.persona import PERSONAS

    assert set(TIMINGS) == set(PERSONAS)
    for timing in TIMINGS.values():
        for family, seconds, source in timing.rows():
            assert seconds >= 0 and source.strip(), family


def test_at_ipr_changes_the_rate_after_its_ok():
    with stepped(options("ec200")) as rig:
        assert rig.command("AT+IPR?")[0] == b"\r\n+IPR: 115200\r\n" + OK
        sent = rig.now
        answer, at = rig.command("AT+IPR=9600", step=0.0001)
        assert answer == OK  # still at 115200
        assert at - sent == pytest.approx(bit_time(12 + 6, 115200) + 0.005, abs=2e-4)
        sent = rig.now
        answer, at = rig.command("AT+IPR?", step=0.0001)
        assert answer == b"\r\n+IPR: 9600\r\n" + OK
        assert at - sent == pytest.approx(bit_time(8 + len(answer), 9600) + 0.005, abs=2e-4)
        assert rig.command("AT+IPR=1234")[0] == b"\r\nERROR\r\n"


@pytest.mark.parametrize("baud", ["1234", "x", "-9600"])
def test_a_baud_rate_no_uart_runs_at_is_refused_before_anything_starts(baud):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "host_tools", "emulate", "--baud", baud],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "--baud" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""
