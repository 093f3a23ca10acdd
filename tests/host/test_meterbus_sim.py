"""`nbkit meterbus --clock sim:...`: the meter-bus emulator as a participant of a time master.

The test plays the board: it writes a DL/T 645 request on the pty at a known device instant,
counts its bytes as the board does (``m0.bus.up>`` sent, ``m0.bus.dn<`` received) and lets
time run; the reply must land exactly when the wire says (request bit times, the standard's
answer delay, reply bit times, then the meter's 700 us phase), not a microsecond earlier or
later, and time must not pass it by while the reply is unread.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
import tty
from collections.abc import Iterator
from typing import Any

import pytest

from host_tools.meterbus import dlt645
from host_tools.meterbus.line import slot
from host_tools.meterbus.persona_dlt645 import ANSWER_DELAY_S
from host_tools.simclock.client import SimClient
from host_tools.simclock.master import Master

EPOCH = 1_764_000_000
BYTE_US = 11 * 1_000_000 / 2400  # 2400 8E1


@pytest.fixture
def sim_meter() -> Iterator[tuple[Master, SimClient, int, Any]]:
    master = Master(EPOCH, stall_s=5).start()
    board = SimClient(master.addr, "board")  # busy until it reports: time waits for it
    proc = subprocess.Popen(
        [sys.executable, "-m", "host_tools", "meterbus", "--protocol", "dlt645"]
        + ["--set", "forward=1234567", "--address", "112233445566"]
        + ["--clock", f"sim:{master.addr[0]}:{master.addr[1]}:m0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    fd = os.open(proc.stdout.readline().strip(), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    try:
        yield master, board, fd, proc
    finally:
        os.close(fd)
        proc.terminate()
        assert proc.wait(10) == 0
        board.close()
        master.stop()


def _idle_until(board: SimClient, fd: int, deadline_s: float) -> bytes:
    """Report idle (board-style) until bytes arrive on the pty or time reaches deadline_s;
    returns what was read (counted as received)."""
    wall = time.monotonic() + 20
    while time.monotonic() < wall:
        board.report(deadline_s)
        ready, _, _ = select.select([board, fd], [], [], 0.5)
        if board in ready:
            board.on_readable()
        if fd in ready:
            board.go()  # input: at its sender's time (after `now`, or asked: client.go)
            data = os.read(fd, 512)
            board.received("m0.bus.dn", len(data))
            return data
        if board.now() >= deadline_s:
            return b""
    raise AssertionError("time stopped")


def test_a_reply_lands_after_bit_times_and_the_answer_delay_on_its_phase(
    sim_meter: tuple[Master, SimClient, int, Any],
) -> None:
    master, board, fd, _ = sim_meter
    board.received("m0.bus.dn", 0)  # declared: the meter's bytes are awaited
    _idle_until(board, fd, EPOCH + 10.2)  # nothing on the bus for 10.2 device s
    t0 = board.t_us
    assert t0 == (EPOCH + 10) * 1_000_000 + 200_001  # the deadline (never before it)
    request = b"\xfe" * 4 + dlt645.encode(
        "112233445566", dlt645.C_READ, dlt645.di_bytes(dlt645.DI_FORWARD_ACTIVE)
    )
    os.write(fd, request)
    board.sent("m0.bus.up", len(request))
    reply = _idle_until(board, fd, EPOCH + 20)
    frame = dlt645.decode(reply)
    assert frame.is_reply() and frame.address == "112233445566"
    request_end = t0 + int(len(request) * BYTE_US)
    answer = slot(request_end + int(ANSWER_DELAY_S * 1e6), t0)
    landed = slot(answer + int(len(reply) * BYTE_US), answer)
    assert board.t_us == landed, (board.t_us - t0, landed - t0)
    assert landed % 1000 == 700  # the meter's own phase in the millisecond
    assert 0.5 < (landed - t0) / 1e6 < 1.0  # 500 ms answer delay + ~0.2 s on the wire
    board.report(EPOCH + 30)  # the bytes read reach the master with the next report
    wall = time.monotonic() + 10
    while master.in_flight():  # every byte both ways is accounted for
        assert time.monotonic() < wall, master.in_flight()
        select.select([], [], [], 0.01)


def test_an_unread_reply_holds_time(sim_meter: tuple[Master, SimClient, int, Any]) -> None:
    """Bytes written to the board and not read yet are in flight: time does not move past
    them (a board that never reads is a stall the master names, not a silent skip)."""
    master, board, fd, _ = sim_meter
    board.received("m0.bus.dn", 0)
    _idle_until(board, fd, EPOCH + 1)
    request = b"\xfe" * 4 + dlt645.encode(
        "112233445566", dlt645.C_READ, dlt645.di_bytes(dlt645.DI_FORWARD_ACTIVE)
    )
    os.write(fd, request)
    board.sent("m0.bus.up", len(request))
    wall = time.monotonic() + 20
    while "m0.bus.dn" not in master.in_flight():  # the reply landed and is unread
        board.report(EPOCH + 60)
        if select.select([board], [], [], 0.2)[0]:
            board.on_readable()
        assert time.monotonic() < wall
    for _ in range(3):  # more report rounds: still nothing moves past the unread reply
        board.report(EPOCH + 60)
        if select.select([board], [], [], 0.1)[0]:
            board.on_readable()
    assert board.now() < EPOCH + 2 and master.now() < EPOCH + 2  # not the board's deadline
    assert "m0.bus.dn" in master.describe()
