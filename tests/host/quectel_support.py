"""Shared helpers of the ec200/bc26 persona tests (not a test module)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from emulator_support import options

from host_tools.emulator.client import PtyClient
from host_tools.emulator.scenario import parse
from host_tools.emulator.server import Emulator, serving

OK = b"\r\nOK\r\n"
BOOT_END = {"ec200": b"+QIND: SMS DONE\r\n", "bc26": b"RDY\r\n"}


@contextmanager
def quectel(
    persona: str = "ec200", faults: list[dict[str, Any]] | None = None, **net: Any
) -> Iterator[tuple[Emulator, PtyClient]]:
    """An in-process ec200/bc26 emulator on a pty and a DTE, after boot."""
    scenario = parse({"faults": faults}) if faults else None
    with serving(options(persona, **net), time_scale=1000.0, scenario=scenario) as emu:
        with PtyClient(emu.path) as port:
            port.read_until(BOOT_END[persona])
            yield emu, port


def registered(port: PtyClient, timeout: float = 2.0) -> None:
    """Poll AT+CEREG? until registered (stat 1)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b"+CEREG: 0,1\r\n" in port.command("AT+CEREG?"):
            return
        time.sleep(0.005)
    raise AssertionError("modem did not register")


def online(port: PtyClient) -> None:
    """Registered with PDP context 1 active (the Cat1 driver's bring-up)."""
    registered(port)
    assert port.command('AT+QICSGP=1,1,"cmnet","","",1') == OK
    assert port.command("AT+QIACT=1") == OK


def send_data(port: PtyClient, command: str, payload: bytes, final: bytes) -> bytes:
    """Data mode: command, wait for the prompt, raw payload; returns what follows the prompt."""
    port.write(command.encode() + b"\r")
    assert port.read_until(b"> ").endswith(b"\r\n> ")
    port.write(payload)
    return port.read_until(final)


class TcpPeer:
    """A real TCP server on 127.0.0.1 accepting one client at a time."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.listener.settimeout(2.0)
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self) -> socket.socket:
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(2.0)
        return self.conn

    def recv_exactly(self, n: int) -> bytes:
        assert self.conn is not None
        out = b""
        while len(out) < n:
            chunk = self.conn.recv(n - len(out))
            assert chunk, f"peer closed after {out!r}"
            out += chunk
        return out

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()
