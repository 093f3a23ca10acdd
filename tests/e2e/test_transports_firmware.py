"""The firmware in MicroPython (tests/e2e/cat1_client.py: durable queue -> frame -> link ->
modem profile -> pty) against the emulated module, the real collector (`nbkit collect`) and,
for MQTT, the real broker: every reading stored exactly once, also across a broker crash.

The script, the emulator and the collector keep device time on one time master
(host_tools.energy.wakerun.wake_rig, as the power measurements do): the script's timeouts, the
module's response times and the network's delays are all device time, so the runs are the same
however busy the host is. The broker is outside the master (the module's device time waits for
its answers)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from host_tools.collector.process import CollectorProcess, running_collector
from host_tools.energy.wakerun import WakeRig, wake_rig

pytestmark = pytest.mark.e2e
SCRIPT = Path(__file__).resolve().parent / "cat1_client.py"
KEY_HEX = "00112233445566778899aabbccddeeff"
DEVICE = 42


@contextlib.contextmanager
def meter(tmp: Path, modem: str, transport: str) -> Iterator[tuple[WakeRig, CollectorProcess]]:
    """The module, the collector for ``transport`` and the meter's time, on one master."""

    def collector(sim: str) -> contextlib.AbstractContextManager[CollectorProcess]:
        return running_collector(tmp, {DEVICE: bytes.fromhex(KEY_HEX)}, transport, sim=sim)

    with wake_rig(modem, peer=collector) as rig:
        yield rig, rig.peer


def report(
    rig: WakeRig,
    modem: str,
    transport: str,
    tmp: Path,
    readings: int,
    *,
    during: tuple[Callable[[], bool], Callable[[], None]] | None = None,
) -> list[str]:
    """One run of the entry script (queue ``readings``, report until none is pending, at
    most 5 rounds); its output lines. Fails unless it ended with nothing pending."""
    col: CollectorProcess = rig.peer
    server = col.server

    def argv(master: str, name: str) -> list[str]:
        args = [rig.emu.path, modem, transport, server[0], str(server[1]), str(DEVICE)]
        return [*args, KEY_HEX, str(readings), str(tmp / "queue"), "5", "2", master, name]

    out = rig.run(SCRIPT, argv, heap="256K", check=False, during=during)
    lines = out.splitlines()
    done = [line.split() for line in lines if line.startswith("done ")]
    assert done and done[-1][2] == "0", (out, col.stderr()[-2000:], rig.emu.stderr()[-2000:])
    return lines


@pytest.mark.parametrize("modem", ["ec200", "bc26"])
def test_udp_over_the_qi_stack_delivers_exactly_once(tmp_path: Path, modem: str) -> None:
    with meter(tmp_path, modem, "udp") as (rig, col):
        report(rig, modem, "udp", tmp_path, 5)
        assert col.seqs(DEVICE) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("modem", ["ec200"])
def test_cat1_tcp_delivers_exactly_once(tmp_path: Path, modem: str) -> None:
    with meter(tmp_path, modem, "tcp") as (rig, col):
        report(rig, modem, "tcp", tmp_path, 5)
        assert col.seqs(DEVICE) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("modem", ["ec200", "bc26"])
def test_mqtt_through_the_real_broker_delivers_exactly_once(tmp_path: Path, modem: str) -> None:
    with meter(tmp_path, modem, "mqtt") as (rig, col):
        report(rig, modem, "mqtt", tmp_path, 5)
        assert col.seqs(DEVICE) == [0, 1, 2, 3, 4]


def _lost(rig: WakeRig) -> bool:
    """The module's MQTT connection broke (its spy records it when it notices)."""
    return any(r["dir"] == "mqtt_lost" for r in rig.emu.spy())


@pytest.mark.parametrize("modem", ["bc28", "bc95"])
def test_coap_platform_path_delivers_exactly_once(tmp_path: Path, modem: str) -> None:
    with meter(tmp_path, modem, "coap") as (rig, col):
        report(rig, modem, "coap", tmp_path, 5)
        assert col.seqs(DEVICE) == [0, 1, 2, 3, 4]


def test_mqtt_broker_crash_mid_run_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path,
) -> None:
    # the broker crashes (SIGKILL: every session gone) at the first instant the collector has
    # stored a frame, while the script still has frames to publish: the module reports the
    # connection closed (+QMTSTAT), the link opens a new session and delivers the rest, and
    # the collector's intake subscribes again: each record stored once
    with meter(tmp_path, "ec200", "mqtt") as (rig, col):
        broker = col.broker
        assert broker is not None

        def crash() -> None:  # with device time held: both ends see it at this instant
            broker.restart()
            end = time.monotonic() + 30
            while not (_lost(rig) and col.stderr().count("mqtt subscribed") == 2):
                assert time.monotonic() < end, "the module or the collector missed the crash"
                time.sleep(0.01)

        crash_at = (lambda: len(col.seqs(DEVICE)) > 0, crash)
        report(rig, "ec200", "mqtt", tmp_path, 12, during=crash_at)
        assert col.seqs(DEVICE) == list(range(12))
        said = "".join(r.get("text", "") for r in rig.emu.spy() if r["dir"] == "from_modem")
        assert said.count("+QMTSTAT: 0,1") == 1, said  # the module saw the broker go, once
        assert "mqtt broker connection lost" in col.stderr(), col.stderr()
