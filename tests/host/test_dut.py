"""The HIL `dut` console: expect() matches in order and shows the buffer on a timeout."""

from __future__ import annotations

import pytest

from host_tools.hil.dut import Dut, ExpectTimeout
from tests.support.repl_pty import micropython_on_pty


def test_expect_matches_in_order_past_the_previous_match(tmp_path):
    dut = Dut("loop://", log_path=tmp_path / "console.log")
    try:
        dut.write("alpha 1\r\nbeta 2\r\nalpha 3\r\n")
        assert dut.expect(r"alpha (\d)").group(1) == b"1"
        assert dut.expect(r"alpha (\d)").group(1) == b"3"
    finally:
        dut.close()
    assert b"beta 2" in (tmp_path / "console.log").read_bytes()


def test_timeout_raises_with_the_unmatched_console_output():
    dut = Dut("loop://")
    try:
        dut.write("booting...\r\nno modem\r\n")
        with pytest.raises(ExpectTimeout, match=r"(?s)no match for b'READY'.*no modem"):
            dut.expect("READY", timeout=0.2)
    finally:
        dut.close()


def test_dut_talks_to_a_real_micropython_console_over_a_pty(tmp_path):
    with micropython_on_pty(tmp_path) as port:
        dut = Dut(port)
        try:
            dut.expect(">>> ", timeout=5)
            dut.writeline("print(6 * 7)")
            dut.expect(r"\n42\r?\n", timeout=5)
        finally:
            dut.close()
