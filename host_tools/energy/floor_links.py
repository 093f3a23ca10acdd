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

The script, the emulator and the real collector (``nbkit collect``, with the broker for MQTT)
keep device time on one time master (:func:`host_tools.energy.wakerun.wake_rig`): each report
is a wake of the meter, and between the two the meter sleeps until the network released the
first report, in device time.
"""

from __future__ import annotations

import tempfile
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools import REPO_ROOT
from host_tools.collector.process import CollectorProcess, running_collector
from host_tools.energy import airpath
from host_tools.energy.model import Profile, Record, integrate
from host_tools.energy.timing import DEFAULT
from host_tools.energy.wakerun import WakeRig, wake_rig

SCRIPT = REPO_ROOT / "tests" / "e2e" / "cat1_client.py"
KEY_HEX = "00112233445566778899aabbccddeeff"
DEVICE = 42
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


def _report(rig: WakeRig, modem: str, transport: str, qdir: Path) -> None:
    col: CollectorProcess = rig.peer
    host, port = col.server

    def argv(master: str, name: str) -> list[str]:
        args = [rig.emu.path, modem, transport, host, str(port), str(DEVICE), KEY_HEX]
        return [*args, "1", str(qdir), "1", "1", master, name]

    out = rig.run(SCRIPT, argv, heap="256K", check=False)
    if "done 1 0" not in out.splitlines():
        raise RuntimeError(f"{transport} report failed: {out[-300:]}")


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
    with tempfile.TemporaryDirectory(prefix="nbkit-floor-") as tmp:
        work = Path(tmp)

        def collector(sim: str) -> AbstractContextManager[CollectorProcess]:
            return running_collector(work, {DEVICE: bytes.fromhex(KEY_HEX)}, transport, sim)

        with wake_rig(modem, peer=collector, ce_level=ce) as rig:
            _report(rig, modem, transport, work / "q1")
            rig.until_state("idle")  # the network released the first report
            before_cmds = len(airpath.commands_from_spy(rig.emu.spy()))
            before_states = len(rig.emu.timeline())
            _report(rig, modem, transport, work / "q2")
            rig.until_state("idle")
            spied = airpath.commands_from_spy(rig.emu.spy())[before_cmds:]
            cmds = [_command(c) for _, c in spied]
            timeline = rig.emu.timeline()[before_states:]
    air = [c for c in cmds if c.upper() in AIR]
    connections, _uplinks = _states(timeline)
    payload = 36  # one record frame (bench-payload: 21 B) with the transport's framing
    # every air exchange is one uplink block, for the firmware and for the minimum alike
    firmware = _charge(profile, ce, max(1, connections), len(air), payload)
    least = _charge(profile, ce, 1, len(minimum), payload)
    return LinkFloor(transport, ce, air, len(minimum), firmware, least)
