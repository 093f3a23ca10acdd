"""Bench suite: `nbkit emulate` command throughput over its real pty (emulator subprocess)."""

from __future__ import annotations

import time
from typing import Any

from host_tools.emulator.client import PtyClient
from host_tools.emulator.process import running_emulator

#: (label, command, round trips)
_CASES = (
    ("AT (shortest round trip)", "AT", 2000),
    ("AT+NUESTATS (13-line response)", "AT+NUESTATS", 1000),
    ("AT+NSOST 512 bytes (2 kB line, real UDP send)", "AT+NSOST=0,127.0.0.1,9,512," + "A5" * 512,
     500),
)  # fmt: skip


def run(report: Any) -> None:
    report.heading("emulator", "Modem emulator: sequential command round trips over the pty")
    # 1e5: a 512-byte transmission (0.3 virtual s) takes 3 us, so uplinks never queue up; the
    # network timers (RRC release, TAU) then run constantly, which is part of the cost
    with running_emulator("bc28", time_scale=1e5, reg_delay=0.0, boot_time=0.0) as emu:
        with PtyClient(emu.path) as port:
            port.read_until(b"Neul\r\nOK\r\n", timeout=10)
            port.command("AT+NSOCR=DGRAM,17,0,1")
            for label, command, count in _CASES:
                for _ in range(20):  # warm-up
                    port.command(command)
                failed = 0
                start = time.perf_counter()
                for _ in range(count):
                    failed += b"ERROR" in port.command(command, timeout=10)
                elapsed = time.perf_counter() - start
                report.figure(label, count / elapsed, "commands/s")
                report.figure(f"  mean round trip, {label.split(' ')[0]}",
                              elapsed / count * 1e6, "us")  # fmt: skip
                if failed:
                    report.figure(f"  answered ERROR, {label.split(' ')[0]}", failed, "commands")
