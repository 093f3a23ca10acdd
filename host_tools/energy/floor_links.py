"""The floor of the other transports: the meter's report path (durable queue -> frame -> link ->
modem, ``tests/e2e/cat1_client.py`` in MicroPython) against ``nbkit emulate`` and a real intake:
CoAP platform (BC28 ``AT+NMGS``), Cat1 TCP and MQTT (EC200).

Each transport is held to its own minimum, as air exchanges per report:

* ``coap``: one ``AT+NMGS``. NMGS carries no release flag (link_cdp.py), so the RRC connection
  lasts the network's inactivity timer: that tail is in the minimum too.
* ``tcp`` (Cat1): ``AT+QIOPEN`` (TCP handshake), ``AT+QISEND``, ``AT+QICLOSE`` (FIN): a TCP
  connection kept across reports hours apart would be cut by carrier NAT timeouts.
* ``mqtt`` (Cat1): ``AT+QMTOPEN``, ``AT+QMTCONN``, ``AT+QMTSUB``, ``AT+QMTPUB``,
  ``AT+QMTDISC``. The subscription (where the ack comes back) is renewed each report because
  Quectel's ``+QMTCONN`` does not report whether the broker kept the session.

The charge of a report is built from modelled states: the RRC connections the report opened (from
the emulator's timeline, measured after the network released the first report) and one uplink
block per air exchange, then the inactivity tail; the minimum is one connection and the
transport's minimum exchanges. Host latency does not enter either.

Still on a scaled-wall clock (``SCALE``; issue 13 item 4): the report script takes the host's own
clock and the intakes here are threads outside any time master, so the emulator runs at ``SCALE``
device seconds per wall second and :func:`wait_state` watches its timeline in wall time. Moving
it onto a time master needs the script on a SimClock and each intake counted as a participant
(as the rig's collector is).
"""

from __future__ import annotations

import io
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools import FIRMWARE_DIR, REPO_ROOT
from host_tools.emulator.process import EmulatorProcess, running_emulator
from host_tools.energy import airpath
from host_tools.energy.model import Profile, Record, integrate
from host_tools.energy.timing import DEFAULT
from host_tools.vboard.mpy import run_micropython

SCRIPT = REPO_ROOT / "tests" / "e2e" / "cat1_client.py"
KEY_HEX = "00112233445566778899aabbccddeeff"
DEVICE = 42
#: device seconds per wall second of the emulator (the script's waits are wall time)
SCALE = 20.0
#: transport -> (modem persona, air commands of the minimum report)
TRANSPORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "coap": ("bc28", ("AT+NMGS",)),
    "tcp": ("ec200", ("AT+QIOPEN", "AT+QISEND", "AT+QICLOSE")),
    "mqtt": ("ec200", ("AT+QMTOPEN", "AT+QMTCONN", "AT+QMTSUB", "AT+QMTPUB", "AT+QMTDISC")),
}
#: commands that make a transport's packets go over the air (the rest are local to the module)
AIR = (
    *("AT+NMGS", "AT+NMGSEXT", "AT+QIOPEN", "AT+QISEND", "AT+QICLOSE"),
    *("AT+QMTOPEN", "AT+QMTCONN", "AT+QMTSUB", "AT+QMTPUB", "AT+QMTDISC", "AT+QMTUNS"),
)


@dataclass
class LinkFloor:
    transport: str
    ce: int
    air: list[str]
    minimum_air: int
    firmware_mah: float
    minimum_mah: float

    @property
    def ratio(self) -> float:
        return self.firmware_mah / self.minimum_mah


@contextmanager
def _intake(transport: str) -> Iterator[tuple[str, int]]:
    from host_tools.collector.coap import PlatformThread
    from host_tools.collector.db import Store
    from host_tools.collector.intake import SharedCollector, serve_mqtt, serve_tcp
    from host_tools.collector.server import Collector

    with tempfile.TemporaryDirectory(prefix="nbkit-floor-") as tmp, ExitStack() as stack:
        collector = Collector(
            Store(Path(tmp) / "c.db"), {DEVICE: bytes.fromhex(KEY_HEX)}, out=io.StringIO()
        )
        collector.log = lambda msg: None
        shared = SharedCollector(collector)
        stop = threading.Event()

        def start(serve: Callable[..., None], host: str, port: int) -> tuple[str, int]:
            ready: queue.Queue[Any] = queue.Queue()
            args = (shared, host, port, stop, ready.put)
            threading.Thread(target=serve, args=args, daemon=True).start()
            addr: tuple[str, int] = ready.get(timeout=10)
            return addr

        try:
            if transport == "coap":
                platform = stack.enter_context(
                    PlatformThread(lambda data, peer: shared.handle(data, peer)[0])
                )
                yield platform.platform.host, platform.platform.port
            elif transport == "tcp":
                yield start(serve_tcp, "127.0.0.1", 0)
            else:
                from host_tools.collector.broker import running_broker

                broker = stack.enter_context(running_broker())
                start(serve_mqtt, broker.host, broker.port)
                yield broker.host, broker.port
        finally:
            stop.set()
            collector.store.close()


def wait_state(emu: EmulatorProcess, state: str, timeout: float = 10.0) -> int:
    """Wait (wall time) until the timeline's last state is ``state``; returns its index."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        timeline = emu.timeline()
        if timeline and timeline[-1]["state"] == state:
            return len(timeline) - 1
        time.sleep(0.01)
    raise RuntimeError(f"the modem never reached {state}: {emu.timeline()[-6:]}")


def _report(emu: Any, modem: str, transport: str, addr: tuple[str, int], qdir: Path) -> None:
    args = [str(SCRIPT), emu.path, modem, transport, addr[0], str(addr[1])]
    args += [str(DEVICE), KEY_HEX, "1", str(qdir), "1", "1"]
    proc = run_micropython(args, path=[str(FIRMWARE_DIR)], heap="256K", cwd=REPO_ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{transport} report failed: {proc.stdout[-300:]}{proc.stderr[-300:]}")


def _command(line: str) -> str:
    # a data-mode payload (QISEND, QMTPUB) is not CR-terminated: the next command follows it
    at = line.rfind("AT")
    return airpath.short(line[at:] if at > 0 else line)


def _states(timeline: list[dict[str, Any]]) -> tuple[int, int]:
    connections = uplinks = 0
    previous = "idle"
    for rec in timeline:
        if rec["state"] == "connected" and previous in ("idle", "psm", "edrx", "awake"):
            connections += 1
        if rec["state"] == "tx" and previous != "tx":
            uplinks += 1
        previous = rec["state"]
    return connections, uplinks


def _charge(profile: Profile, ce: int, connections: int, uplinks: int, payload: int) -> float:
    tm, t, records = DEFAULT, 0.0, []
    for state, seconds in (
        [("connected", tm.rrc_setup_s[ce])] * connections
        + [("tx", tm.tx_s(payload, ce))] * uplinks
        + [("connected", tm.rrc_inactivity_s)]
    ):
        records.append(Record(t, state, ce))
        t += seconds
    records.append(Record(t, "idle", ce))
    return integrate(records, profile).total_mah


def measure(transport: str, ce: int, profile: Profile) -> LinkFloor:
    """The second report of a fresh device (the first one attaches) against the minimum."""
    modem, minimum = TRANSPORTS[transport]
    with (
        _intake(transport) as addr,
        tempfile.TemporaryDirectory() as tmp,
        running_emulator(modem, time_scale=SCALE, ce_level=ce) as emu,
    ):
        _report(emu, modem, transport, addr, Path(tmp) / "q1")
        wait_state(emu, "idle", timeout=30.0)  # the network released the first report
        before_cmds = len(airpath.commands_from_spy(emu.spy()))
        before_states = len(emu.timeline())
        _report(emu, modem, transport, addr, Path(tmp) / "q2")
        cmds = [_command(c) for _, c in airpath.commands_from_spy(emu.spy())[before_cmds:]]
        timeline = emu.timeline()[before_states:]
    air = [c for c in cmds if c.upper() in AIR]
    connections, _uplinks = _states(timeline)
    payload = 36  # one record frame (bench-payload: 21 B) with the transport's framing
    # every air exchange is one uplink block, for the firmware and for the minimum alike
    firmware = _charge(profile, ce, max(1, connections), len(air), payload)
    least = _charge(profile, ce, 1, len(minimum), payload)
    return LinkFloor(transport, ce, air, len(minimum), firmware, least)
