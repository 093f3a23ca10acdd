"""The firmware AT driver talks to a scripted BC95 over a real pty, in the MicroPython unix port.

CPython plays the modem on the pty master (byte for byte as the Huawei firmware answers); the
MicroPython process opens the slave with `nbkit.hal.tty.TtyTransport` (termios raw mode,
select.poll) and runs `Bc95.attach/open_udp/sendto/recv`. Finally the modem side hangs up and
the next command must end as a timeout instead of spinning or hanging.
"""

from __future__ import annotations

import os
import pty
import threading
import tty
from pathlib import Path

import pytest

from tests.micropython_runner import run_micropython

HERE = Path(__file__).resolve().parent

REPLIES: dict[bytes, list[bytes]] = {
    b"AT": [b"\r\nOK\r\n"],
    b"ATE0": [b"ATE0\r\r\nOK\r\n"],
    b"AT+CMEE=1": [b"\r\nOK\r\n"],
    b"AT+NCONFIG?": [b"\r\n+NCONFIG:AUTOCONNECT,FALSE\r\n\r\nOK\r\n"],
    b"AT+CEREG=2": [b"\r\nOK\r\n"],
    b"AT+CSCON=1": [b"\r\nOK\r\n"],
    b"AT+NPSMR=1": [b"\r\nOK\r\n"],
    b"AT+CFUN=1": [b"\r\n+CEREG:2,0000,00000000,9\r\n\r\nOK\r\n"],
    b"AT+CGATT=1": [b"\r\nOK\r\n", b'\r\n+CEREG:1,"0216","0153803F",9\r\n'],
    b"AT+NSOCR=DGRAM,17,0,1": [b"\r\n1\r\n\r\nOK\r\n"],
    b"AT+NSOST=1,127.0.0.1,9999,6,68690D0A4F4B": [
        b"\r\n+CSCON:1\r\n\r\n1,6\r\n\r\nOK\r\n",
        b"\r\n+NSONMI:1,3\r\n",
    ],
}
NSORF = [b"\r\n1,127.0.0.1,9999,3,\x00414243,0\r\n\r\nOK\r\n", b"\r\nOK\r\n"]


def _modem(master: int, log: list[bytes]) -> None:
    """Answer each command line; the first command after the NSORF reads gets a hang-up."""
    buf = b""
    nsorf = list(NSORF)
    hang_up = False
    while True:
        try:
            chunk = os.read(master, 256)
        except OSError:
            return
        buf += chunk
        while b"\r" in buf:
            line, buf = buf.split(b"\r", 1)
            log.append(line)
            if hang_up:
                os.close(master)
                return
            if line.startswith(b"AT+NSORF=1,"):
                os.write(master, nsorf.pop(0))
                hang_up = not nsorf
                continue
            for reply in REPLIES.get(line, [b"\r\nERROR\r\n"]):
                os.write(master, reply)


@pytest.mark.e2e
def test_bc95_driver_over_a_real_pty() -> None:
    master, slave = pty.openpty()
    tty.setraw(master)
    path = os.ttyname(slave)
    log: list[bytes] = []
    modem = threading.Thread(target=_modem, args=(master, log), daemon=True)
    modem.start()
    try:
        proc = run_micropython([str(HERE / "at_pty_client.py"), path], timeout=30)
    finally:
        os.close(slave)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "attach True 9" in out, out
    assert "sent 6" in out, out
    assert "recv [b'ABC']" in out, out
    assert "states booting configuring searching registered connected" in out, out
    assert "counters 0 1" in out, out  # the NUL inside the NSORF line is dropped and counted
    assert "hangup TIMEOUT True" in out, out  # POLLHUP seen: waited, did not spin
    assert log[:3] == [b"AT", b"ATE0", b"AT+CMEE=1"], log
