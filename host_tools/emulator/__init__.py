# emulator: the modem emulator (`nbkit emulate`, emulate.py): Quectel personas answering AT
# commands on a pty, the virtual network, sockets, MQTT/CoAP sessions, scenarios, clock.
"""``nbkit emulate``: a Quectel BC95/BC28 (Huawei firmware), BC26, BC660K or EC200 on a pty.

The module answers AT commands with the real modules' byte formats, models the network
(registration, RRC, PSM/eDRX, coverage) on a shared virtual clock, moves datagrams over REAL
UDP sockets on 127.0.0.1, writes a byte spy log and a modem state timeline, and injects faults
from a scenario file (format: :mod:`host_tools.emulator.scenario`).

Parts: :mod:`.atparse` (input rules), :mod:`.commands` and :mod:`.nso` (command handlers),
:mod:`.modem` (boot, framing, URCs, faults), :mod:`.network` (radio state machine),
:mod:`.sockets` (UDP), :mod:`.reactor` (one-thread loop on virtual time), :mod:`.server`
(the pty), :mod:`.process` (start ``nbkit emulate`` as a subprocess from tests).
Quectel-firmware personas (ec200, bc26): :mod:`.quectel` (modem, 27.007 subset), :mod:`.qsock`
(QI sockets on real TCP/UDP), :mod:`.qmqtt` (AT+QMT bridged to a real broker); Huawei CDP to a
CoAP platform: :mod:`.cdp`; threads to reactor: :mod:`.bridge`; the BC660K-GL persona (PSM
events, deep sleep, its QIRD layout): :mod:`.bc660k`. Personas: :mod:`.persona`, one per model
of the firmware's registry (``nbkit/modem/models.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from host_tools.emulator.clock import VirtualClock
    from host_tools.emulator.modem import ModemOptions
    from host_tools.emulator.network import NetworkConfig
    from host_tools.emulator.server import Emulator

__all__ = ["Emulator", "ModemOptions", "NetworkConfig", "VirtualClock"]

#: the package's names, each loaded from its module when first asked for: a process that needs
#: one part (the virtual board host: the clock) does not import the whole modem
_WHERE = {
    "Emulator": "server",
    "ModemOptions": "modem",
    "NetworkConfig": "network",
    "VirtualClock": "clock",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
