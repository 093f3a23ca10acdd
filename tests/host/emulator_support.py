"""Shared helpers of the emulator tests (not a test module)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from host_tools.emulator.client import PtyClient
from host_tools.emulator.modem import ModemOptions
from host_tools.emulator.network import NetworkConfig
from host_tools.emulator.scenario import parse
from host_tools.emulator.server import Emulator, serving

BANNER_END = b"Neul\r\nOK\r\n"


def options(persona: str = "bc28", boot_time: float = 0.01, **net: Any) -> ModemOptions:
    """Quick boot and registration; other network settings as given."""
    net.setdefault("reg_delay", 0.01)
    return ModemOptions(persona=persona, boot_time=boot_time, network=NetworkConfig(**net))


@contextmanager
def modem(
    persona: str = "bc28",
    time_scale: float = 1.0,
    faults: list[dict[str, Any]] | None = None,
    **net: Any,
) -> Iterator[tuple[Emulator, PtyClient]]:
    """An in-process emulator and a DTE on its pty, after the power-on banner."""
    scenario = parse({"faults": faults}) if faults else None
    with serving(options(persona, **net), time_scale=time_scale, scenario=scenario) as emu:
        with PtyClient(emu.path) as port:
            port.read_until(BANNER_END)
            yield emu, port


def wait_registered(port: PtyClient, timeout: float = 2.0) -> None:
    """Poll AT+CGATT? until attached (as a driver does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b"+CGATT:1" in port.command("AT+CGATT?"):
            return
        time.sleep(0.005)
    raise AssertionError("modem did not register")
