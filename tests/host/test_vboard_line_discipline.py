"""The virtual board's console behaves like a UART: only Ctrl-C has a meaning (for MicroPython)."""

from __future__ import annotations

import os
import pty
import termios

from host_tools.vboard.parts import uart_line_discipline


def test_only_ctrl_c_signals_on_the_console_pty():
    master, slave = pty.openpty()
    try:
        uart_line_discipline(slave)
        attrs = termios.tcgetattr(slave)
        assert attrs[3] & termios.ISIG and not attrs[3] & termios.ECHO
        cc = attrs[6]
        assert cc[termios.VINTR] == b"\x03"[0] or cc[termios.VINTR] == b"\x03"
        for name in ("VQUIT", "VSUSP"):  # Ctrl-\\ would kill the board, Ctrl-Z stop it
            value = cc[getattr(termios, name)]
            assert value in (0, b"\x00"), (name, value)
    finally:
        os.close(master)
        os.close(slave)
