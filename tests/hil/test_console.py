"""The service console on the board's console UART: reachable after a reset, answers lines."""

from __future__ import annotations

import pytest


def test_the_service_console_opens_after_a_reset_and_answers(hil_target, dut):
    hil_target.open_console(dut, "ping hil-1")
    dut.expect(r"pong: hil-1\r\nOK\r\n", timeout=5)
    dut.writeline("help")
    dut.expect(r"selftest: selftest - modem, SIM, attach, test uplink, sensor\r\n", timeout=5)
    dut.expect(r"OK\r\n", timeout=5)


def test_locked_commands_and_bad_lines_get_clear_errors(hil_target, dut):
    hil_target.open_console(dut, "get")
    dut.expect(r"ERR 401 locked: unlock <pin> or challenge/respond first\r\n", timeout=5)
    dut.write(b"\xff\xfe garbage\r\n")
    dut.expect(r"ERR 400 line has a non-ASCII or control byte 0xff\r\n", timeout=5)
    dut.writeline("x" * 300)
    dut.expect(r"ERR 414 line too long", timeout=5)
    dut.writeline("ping still-here")
    dut.expect(r"pong: still-here\r\nOK\r\n", timeout=5)


def test_exit_without_a_session_ends_the_window_and_the_meter_cycle_runs(hil_target, dut):
    hil_target.open_console(dut, "exit")
    dut.expect(r"OK\r\n", timeout=5)
    dut.expect(r"service console closed", timeout=5)
    dut.expect(r"nbkit: sleep \d+ s", timeout=60)


@pytest.mark.virtual_only
def test_a_timer_wake_opens_no_window(hil_target, dut):
    hil_target.open_console(dut, "exit")
    dut.expect(r"nbkit: sleep \d+ s", timeout=60)
    boots = hil_target.status()["boots"]
    assert hil_target.wait_for(lambda: hil_target.status()["boots"] > boots, 30)
    dut.expect(r"nbkit: sleep \d+ s", timeout=60)  # the next wake ran the cycle ...
    assert "service console open" not in dut.before()  # ... without a service window
