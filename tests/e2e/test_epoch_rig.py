"""Attack 4 of issue 16 on the virtual board: a device whose queue was lost counts from seq 0
again, and a man in the middle replays an old, authentic ack that names exactly those sequence
numbers. Before frames and acks were bound to a boot epoch and to the uplink they answer, that
ack deleted readings never delivered, and the collector then refused the device forever
(`seq_reused`). Now the device refuses the replay (bound to another uplink), the collector moves
it to a new epoch with an authenticated answer, and every reading arrives. Production build."""

from __future__ import annotations

import socket
import sqlite3
import threading
from pathlib import Path

import pytest

from host_tools.device import flashimg
from host_tools.rig.rig import Rig, RigOptions, free_udp_port

pytestmark = pytest.mark.e2e
BLOCK = 4096


class Mitm:
    """A UDP relay between the modem's sockets and the collector that can replay old acks."""

    def __init__(self, collector: tuple[str, int]) -> None:
        self.collector = collector
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", free_udp_port()))
        self.sock.settimeout(0.05)
        self.acks: list[bytes] = []
        self.replay: bytes | None = None  # set: answer uplinks with it, forward nothing
        self.replayed = 0
        self.device: tuple[str, int] | None = None
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    @property
    def addr(self) -> tuple[str, int]:
        return self.sock.getsockname()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(2048)
            except (TimeoutError, OSError):
                continue
            if addr == self.collector:
                self.acks.append(data)
                if self.device is not None:
                    self.sock.sendto(data, self.device)
                continue
            self.device = addr
            if self.replay is not None:
                self.replayed += 1
                self.sock.sendto(self.replay, addr)
            else:
                self.sock.sendto(data, self.collector)


class MitmRig(Rig):
    def _start_broker(self) -> None:
        super()._start_broker()
        self.mitm = Mitm(self.server)
        self.server = self.mitm.addr


def _lose_the_queue(image: Path) -> None:
    """What a damaged flash does: the queue and the epoch file are gone, the rest survives."""
    buffer = bytearray(image.read_bytes())
    fs = flashimg._fs(buffer, BLOCK, mount=True)
    for name in fs.listdir("queue"):
        fs.remove(f"queue/{name}")
    for name in ("epoch", "meter.state"):
        try:
            fs.remove(name)
        except Exception:  # littlefs' own error: not there
            pass
    fs.unmount()
    image.write_bytes(bytes(buffer))


def _rows(db: Path) -> list[tuple[int, int, str]]:
    with sqlite3.connect(db) as conn:
        q = "SELECT epoch, seq, name FROM readings WHERE device=1042 ORDER BY epoch, seq"
        return [(int(e), int(s), str(n)) for e, s, n in conn.execute(q)]


def test_a_replayed_ack_after_a_lost_queue_deletes_nothing(tmp_path: Path) -> None:
    opts = RigOptions(read_interval_s=60, report_interval_s=60)
    opts.build_profile = "production"
    rig = MitmRig(tmp_path, opts)
    with rig:
        assert rig.wait_for(lambda: len(rig.uplinks) >= 2, device_s=90_000), rig.console_lines[
            -20:
        ]
        old_ack = rig.mitm.acks[0]  # answers epoch 0, seq 0.. (the boot event and more)
        assert rig.control("power off") == "ok"
        _lose_the_queue(rig.path("flash.img"))
        rig.mitm.replay = old_ack
        assert rig.control("power on") == "ok"
        assert rig.wait_for(lambda: rig.mitm.replayed >= 2, device_s=90_000)
        assert rig.wait_for(
            lambda: any("ack refused unbound" in ln for ln in rig.console_lines), device_s=30_000
        ), rig.console_lines[-20:]
        rig.mitm.replay = None  # the attacker leaves: the device must still get everything in
        assert rig.wait_for(
            lambda: any(u.get("epoch", 0) >= 1 for u in rig.uplinks), device_s=120_000
        ), (rig.console_lines[-30:], rig.path("collector.stderr").read_text()[-2000:])
        rig.control("power off")
    rows = _rows(rig.path("collector.db"))
    print("rows (epoch, seq, name):", rows, "replayed", rig.mitm.replayed)
    later = [(s, n) for e, s, n in rows if e >= 1]
    assert later and later[0] == (0, "boot"), (
        "the boot event written after the loss (seq 0 again) is delivered, not deleted",
        rows,
    )
    assert [s for s, _ in later] == list(range(len(later))), rows
    assert "seq_reused" in rig.path("collector.stderr").read_text()
