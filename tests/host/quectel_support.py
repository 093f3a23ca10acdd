"""Shared helpers of the ec200/bc26 persona tests (not a test module).

Every rig here is on one time master (host_tools.simclock): the DTE, the emulator and each
peer that answers the module are participants, so device time moves only while the DTE waits
and never while an answer is on its way. Timeouts are device seconds.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from emulator_support import sim_modem

from host_tools.emulator.client import SimPtyClient
from host_tools.emulator.server import Emulator
from host_tools.emulator.uart import bit_time
from host_tools.simclock.client import SimClient

OK = b"\r\nOK\r\n"
BOOT_END = {"ec200": b"+QIND: SMS DONE\r\n", "bc26": b"RDY\r\n"}
#: wall seconds a hold may last (a loaded host is slow, never wrong; device time stands)
HOLD_WALL_S = 20.0


@contextmanager
def quectel(
    persona: str = "ec200", faults: list[dict[str, Any]] | None = None, **net: Any
) -> Iterator[tuple[Emulator, SimPtyClient]]:
    """An in-process ec200/bc26 emulator and a DTE on one time master, after boot."""
    with sim_modem(persona, BOOT_END[persona], faults, **net) as (emu, port):
        yield emu, port


def registered(port: SimPtyClient, timeout: float = 2.0) -> None:
    """Poll AT+CEREG? every 0.1 device s until registered (stat 1), within ``timeout`` device
    seconds."""
    deadline = port.now() + timeout
    while port.now() < deadline:
        if b"+CEREG: 0,1\r\n" in port.command("AT+CEREG?"):
            return
        port.idle(0.1)
    raise AssertionError("modem did not register")


def online(port: SimPtyClient) -> None:
    """Registered with PDP context 1 active (the Cat1 driver's bring-up)."""
    registered(port)
    assert port.command('AT+QICSGP=1,1,"cmnet","","",1') == OK
    assert port.command("AT+QIACT=1") == OK


def send_data(port: SimPtyClient, command: str, payload: bytes, final: bytes) -> bytes:
    """Data mode: command, wait for the prompt, raw payload; returns what follows the prompt."""
    port.write(command.encode() + b"\r")
    assert port.read_until(b"> ").endswith(b"\r\n> ")
    port.write(payload)
    return port.read_until(final)


def on_wire_at(port: SimPtyClient, emu: Emulator, t: float, line: bytes) -> bool:
    """``line`` (read last) was put on the UART at device time ``t``: it reached the DTE its
    bit time later, within the 1 ms UART slot (Reactor.uart_slot) and 1 us of rounding."""
    late = port.now() - t - bit_time(len(line), emu.baud)
    return -1e-6 <= late <= 0.001 + 1e-6


def hold_until(done: Callable[[], bool], what: str) -> None:
    """Wait in wall time until ``done()`` holds, with device time standing still: between two
    calls of the DTE (a participant, busy then) nothing can move it. For what reaches the
    emulator or the collector from outside the master (a broker's crash, a platform's own
    downlink): once they have taken it, it happened at this device instant, however slow the
    host was to deliver it."""
    end = time.monotonic() + HOLD_WALL_S
    while not done():
        assert time.monotonic() < end, f"{what}: not within {HOLD_WALL_S:g} wall s"
        time.sleep(0.002)


class TcpPeer:
    """A TCP server on 127.0.0.1 accepting one client at a time, as a participant of the DTE's
    time master (``name``): what it sends the module, bytes and its close, is counted before it
    goes (``tcpd.<module's port>>``; the module counts ``tcpd.<its port><``, an EOF as 1), so
    device time cannot move on before the module has taken it. What the module sends is read
    when the test looks (the kernel keeps it, and device time stands while the test works), so
    the peer declares nothing it awaits."""

    def __init__(self, master: tuple[str, int], name: str = "tcp-peer") -> None:
        self.sim = SimClient(master, name)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.listener.settimeout(2.0)
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None
        self.client_port = 0  # the module's end of the accepted connection
        self.sim.report(None)

    def accept(self) -> socket.socket:
        """The next connection (the module's connect completed within its AT+QIOPEN)."""
        self.conn, addr = self.listener.accept()
        self.conn.settimeout(2.0)
        self.client_port = addr[1]
        return self.conn

    def _counted(self, n: int) -> None:
        self.sim.sent(f"tcpd.{self.client_port}", n)
        self.sim.report(None)  # before the bytes: the master holds time for them

    def sendall(self, data: bytes) -> None:
        """Send ``data`` to the module, counted first."""
        assert self.conn is not None
        self._counted(len(data))
        self.conn.sendall(data)

    def shut(self) -> None:
        """Close the connection (the module reads an EOF), counted first."""
        assert self.conn is not None
        self._counted(1)
        self.conn.close()
        self.conn = None

    def recv_exactly(self, n: int) -> bytes:
        """``n`` bytes the module sent (wall timeout: device time stands while it reads)."""
        assert self.conn is not None
        out = b""
        while len(out) < n:
            chunk = self.conn.recv(n - len(out))
            assert chunk, f"peer closed after {out!r}"
            out += chunk
        return out

    def close(self) -> None:
        """Leave the master and close everything (an open connection uncounted: more
        received than sent is never in flight)."""
        if self.conn is not None:
            self.conn.close()
        self.listener.close()
        self.sim.close()

    def __enter__(self) -> TcpPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
