"""Shared helpers of the emulator tests (not a test module)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from host_tools.emulator.client import FINAL, SimPtyClient
from host_tools.emulator.clock import VirtualClock
from host_tools.emulator.modem import ModemOptions
from host_tools.emulator.network import NetworkConfig
from host_tools.emulator.scenario import parse
from host_tools.emulator.server import Emulator, serving
from host_tools.simclock.client import SimClient
from tests.support.simdte import sim_dte

BANNER_END = b"Neul\r\nOK\r\n"


def options(persona: str = "bc28", boot_time: float = 0.01, **net: Any) -> ModemOptions:
    """Quick boot and registration; other network settings as given."""
    net.setdefault("reg_delay", 0.01)
    return ModemOptions(persona=persona, boot_time=boot_time, network=NetworkConfig(**net))


@contextmanager
def sim_modem(
    persona: str = "bc28",
    banner: bytes = BANNER_END,
    faults: list[dict[str, Any]] | None = None,
    opts: ModemOptions | None = None,
    timeline_stream: IO[str] | None = None,
    **net: Any,
) -> Iterator[tuple[Emulator, SimPtyClient]]:
    """An in-process emulator and a DTE on one time master (device time moves only while the
    DTE waits: timeouts are device seconds), after the power-on banner. ``opts``: the module's
    options instead of :func:`options` (``persona`` and ``net`` unused then); ``timeline_stream``:
    where the timeline records go as JSON lines."""
    scenario = parse({"faults": faults}) if faults else None
    with sim_dte() as dte:
        with serving(
            opts or options(persona, **net),
            scenario=scenario,
            timeline_stream=timeline_stream,
            sim=dte.spec,
        ) as emu:
            with dte.open(emu.path) as port:
                port.read_until(banner)
                yield emu, port


def wait_registered(port: SimPtyClient, timeout: float = 2.0, ask: str = "AT+CGATT?") -> None:
    """Poll (AT+CGATT? by default) every device second until attached, as a driver does,
    within ``timeout`` device seconds."""
    done = b",1" if ask.startswith("AT+CEREG") else b"+CGATT:1"
    deadline = port.now() + timeout
    while port.now() < deadline:
        if done in port.command(ask):
            return
        port.idle(1)
    raise AssertionError("modem did not register")


class SimPeer:
    """A UDP sender the test drives, as a participant of the DTE's time master: each datagram
    is counted before it goes (``udp.<its port>>``, the module counts ``udp.<port><``), so
    device time cannot move on before the module has taken it. Nothing is awaited at its own
    socket (what reaches it is read when the test looks, after letting device time pass)."""

    def __init__(self, master: tuple[str, int], name: str = "peer") -> None:
        self.sim = SimClient(master, name)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.sim.report(None)

    def sendto(self, data: bytes, port: int) -> None:
        self.sim.sent(f"udp.{port}")
        self.sim.report(None)  # before the datagram: the master holds time for it
        self.sock.sendto(data, ("127.0.0.1", port))

    def recvfrom(self) -> tuple[bytes, tuple[str, int]]:
        """A datagram that has arrived (BlockingIOError when none has)."""
        data, addr = self.sock.recvfrom(65535)
        return data, addr

    def close(self) -> None:
        self.sim.close()
        self.sock.close()

    def __enter__(self) -> SimPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ManualClock(VirtualClock):
    """Virtual time that moves only when a test moves it (no wall clock at all)."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        super().__init__(0.0, t, 1.0)
        self.t = t

    def now(self) -> float:
        return self.t


class Stepped:
    """An emulator driven by hand on a :class:`ManualClock`: ``send`` puts bytes on its UART
    (they cost their bit time), ``advance`` runs every timer due up to the new time in order,
    ``read`` takes what the modem has put on the wire so far. Fully deterministic."""

    def __init__(self, emu: Emulator, clock: ManualClock) -> None:
        self.emu, self.clock = emu, clock
        os.set_blocking(emu.slave, False)

    @property
    def now(self) -> float:
        return self.clock.t

    def advance(self, seconds: float) -> None:
        self.advance_to(self.clock.t + seconds)

    def advance_to(self, t: float) -> None:
        self.clock.t = t
        self.emu.reactor.run_due()

    def send(self, data: bytes | str) -> None:
        self.emu.input.feed(data.encode() if isinstance(data, str) else data)

    def read(self) -> bytes:
        out = bytearray()
        while True:
            try:
                chunk = os.read(self.emu.slave, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def command(self, line: str, within: float = 30.0, step: float = 0.001) -> tuple[bytes, float]:
        """Send ``line`` + CR, step time until a final result arrives; (answer, its time)."""
        self.send(line + "\r")
        got, deadline = b"", self.clock.t + within
        while self.clock.t < deadline:
            self.advance(step)
            got += self.read()
            if FINAL.search(got):
                return got, self.clock.t
        raise AssertionError(f"no final result for {line!r} within {within} s; got {got!r}")


@contextmanager
def stepped(
    opts: ModemOptions | None = None,
    faults: list[dict[str, Any]] | None = None,
    timeline_stream: IO[str] | None = None,
) -> Iterator[Stepped]:
    """An emulator on a manual clock, powered on, after its banner (nothing runs in a thread)."""
    clock = ManualClock()
    scenario = parse({"faults": faults}) if faults else None
    emu = Emulator(opts or options(), clock, scenario, timeline_stream=timeline_stream)
    try:
        emu.modem.start()
        rig = Stepped(emu, clock)
        rig.advance(emu.modem.opts.boot_time + 0.5)
        assert rig.read(), "no boot banner"
        yield rig
    finally:
        emu.close()
