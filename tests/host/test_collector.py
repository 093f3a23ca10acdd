"""The collector as a real UDP server on 127.0.0.1, fed frames built with the device's codec."""

from __future__ import annotations

import io
import queue
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nbkit.proto import codes, frame

from host_tools.collector.db import Store
from host_tools.collector.server import Collector, serve

KEY = bytes(range(16))
OTHER = bytes(range(16, 32))
KEYS = {1042: KEY, 7: OTHER}
T = 1764000000


def readings(seq0: int, n: int, base: int = 1000) -> list[tuple[int, int, int, int]]:
    return [(seq0 + i, T + 900 * i, codes.WATER_L, base + 10 * i) for i in range(n)]


class Server:
    def __init__(self, tmp: Path) -> None:
        self.db = tmp / "collector.db"
        self.out = io.StringIO()
        self.logs: list[str] = []
        self.collector = Collector(Store(self.db), KEYS, out=self.out)
        self.collector.log = self.logs.append
        self.stop = threading.Event()
        ready: queue.Queue[tuple[str, int]] = queue.Queue()
        self.thread = threading.Thread(
            target=serve, args=(self.collector, "127.0.0.1", 0, self.stop, ready.put)
        )
        self.thread.start()
        self.addr = ready.get(timeout=5)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(2)

    def send(self, data: bytes) -> bytes | None:
        """Send one datagram -> the ack, or None when the server counted it and sent nothing."""
        before = sum(self.collector.counts.values())
        self.sock.sendto(data, self.addr)
        self.sock.settimeout(0.01)
        deadline = time.monotonic() + 2
        while sum(self.collector.counts.values()) == before:
            if time.monotonic() > deadline:
                raise AssertionError("the server did not handle the frame")
            try:
                return self.sock.recv(1024)
            except TimeoutError:
                continue
        self.sock.settimeout(0.05)  # handled: an ack, if any, is already on its way
        try:
            return self.sock.recv(1024)
        except TimeoutError:
            return None

    def rows(self) -> list[dict[str, Any]]:
        store = Store(self.db)
        try:
            return store.rows()
        finally:
            store.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        self.collector.store.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    yield srv
    srv.close()


def test_valid_uplink_is_stored_printed_and_acked_for_the_device(server: Server) -> None:
    data, n = frame.encode_data(1042, KEY, readings(77, 16))
    ack = server.send(data)
    assert ack is not None and frame.decode_ack(ack, KEY, 1042) == (77, 92)
    rows = server.rows()
    assert [(r["seq"], r["name"], r["value"], r["unit"]) for r in rows][:2] == [
        (77, "water", 1000, "L"),
        (78, "water", 1010, "L"),
    ]
    assert len(rows) == n == 16
    line = server.out.getvalue().strip()
    assert (
        line.startswith("uplink device=1042 epoch=0 seq=77..92 n=16 bytes=")
        and "water[L]=1000," in line
    )
    assert server.collector.summary() == {"accepted": 1, "records_stored": 16}


def test_replayed_frame_is_re_acked_but_never_stored_twice(server: Server) -> None:
    data, _ = frame.encode_data(1042, KEY, readings(5, 3))
    first = server.send(data)
    again = server.send(data)
    assert first == again and again is not None
    assert len(server.rows()) == 3
    assert server.collector.counts["duplicate"] == 1
    # a device whose ack was lost resends a bigger frame: only the new records are stored
    bigger, _ = frame.encode_data(1042, KEY, readings(5, 5))
    ack = server.send(bigger)
    assert ack is not None and frame.decode_ack(ack, KEY, 1042) == (5, 9)
    assert [r["seq"] for r in server.rows()] == [5, 6, 7, 8, 9]


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("forged", lambda: frame.encode_data(1042, OTHER, readings(1, 2))[0], "forged"),
        (
            "flipped bit",
            lambda: bytes([*frame.encode_data(1042, KEY, readings(1, 2))[0][:-1], 0]),
            "forged",
        ),
        (
            "unknown device",
            lambda: frame.encode_data(99, KEY, readings(1, 2))[0],
            "unknown_device",
        ),
        ("truncated", lambda: frame.encode_data(1042, KEY, readings(1, 2))[0][:10], "truncated"),
        (
            "oversized",
            lambda: frame.encode_data(1042, KEY, readings(1, 2))[0] + bytes(600),
            "oversized",
        ),
        (
            "bad version",
            lambda: b"\x11" + frame.encode_data(1042, KEY, readings(1, 2))[0][1:],
            "bad_version",
        ),
        ("an ack sent to the collector", lambda: frame.encode_ack(1042, KEY, 1, 2), "bad_type"),
        ("garbage", lambda: bytes([0x21]) + b"\xff" * 20, "malformed"),
    ],
)
def test_bad_frames_are_refused_by_reason_and_the_server_keeps_running(
    server: Server, name: str, make: Any, reason: str
) -> None:
    assert server.send(make()) is None, name
    assert server.collector.counts[reason] == 1, server.collector.counts
    assert server.rows() == []
    assert any(f"rejected {reason}" in line for line in server.logs), server.logs
    good, _ = frame.encode_data(7, OTHER, readings(1, 1))
    assert server.send(good) is not None, "still serving after a bad frame"


def test_reused_sequence_number_is_not_stored_nor_acked_the_device_moves_epoch(
    server: Server,
) -> None:
    # issue 16, finding 4: a device whose counters went back was refused forever
    assert server.send(frame.encode_data(1042, KEY, readings(0, 2, base=5))[0]) is not None
    reset_device, _ = frame.encode_data(1042, KEY, readings(0, 2, base=0))  # counts from 0 again
    answer = server.send(reset_device)
    assert answer is not None and frame.check_reply(answer, KEY, reset_device) == (
        frame.EPOCH,
        1,
        None,
    ), "no ack: an authenticated 'use epoch 1' bound to this uplink"
    assert server.collector.counts["seq_reused"] == 1
    assert [r["value"] for r in server.rows()] == [5, 15]
    moved, _ = frame.encode_data(1042, KEY, readings(0, 2, base=0), epoch=1)
    ack = server.send(moved)
    assert ack is not None and frame.check_reply(ack, KEY, moved) == (frame.ACK, 0, 1)
    rows = server.rows()
    assert [(r["epoch"], r["seq"], r["value"]) for r in rows] == [
        (0, 0, 5),
        (0, 1, 15),
        (1, 0, 0),
        (1, 1, 10),
    ]
    again, _ = frame.encode_data(1042, KEY, readings(2, 1, base=0), epoch=0)  # still behind
    assert server.send(again) is not None, "a new seq of an old epoch is a new record"


def test_acks_answer_one_uplink_and_a_replayed_ack_fits_no_other(server: Server) -> None:
    one, _ = frame.encode_data(1042, KEY, readings(0, 2))
    two, _ = frame.encode_data(1042, KEY, readings(2, 2))
    ack_one, ack_two = server.send(one), server.send(two)
    assert ack_one is not None and ack_two is not None
    assert frame.check_reply(ack_two, KEY, two) == (frame.ACK, 2, 3)
    for stale in (ack_one, server.send(one)):  # the old ack, and a re-ack of the old frame
        assert stale is not None
        with pytest.raises(frame.FrameError) as err:
            frame.check_reply(stale, KEY, two)
        assert err.value.reason == frame.UNBOUND


def test_an_old_database_without_epochs_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE readings (device INTEGER NOT NULL, seq INTEGER NOT NULL, t INTEGER NOT "
        "NULL, code INTEGER NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, unit TEXT NOT "
        "NULL, received REAL NOT NULL, PRIMARY KEY (device, seq));"
        "INSERT INTO readings VALUES (1042, 4, 1764000000, 1, 'water', 9, 'L', 0);"
    )
    conn.commit()
    conn.close()
    store = Store(path)
    try:
        assert [(r["epoch"], r["seq"]) for r in store.rows()] == [(0, 4)]
        assert store.store(1042, [(4, 1764000000, 1, 9)], 0) == (0, 1), "still a duplicate"
        assert store.store(1042, [(4, 1764000900, 1, 10)], 1) == (1, 0)
    finally:
        store.close()


def test_json_lines_output(tmp_path: Path) -> None:
    out = io.StringIO()
    store = Store(tmp_path / "j.db")
    col = Collector(store, KEYS, out=out, as_json=True)
    data, _ = frame.encode_data(7, OTHER, [(3, T, codes.BATTERY_MV, 3012)])
    ack, outcome = col.handle(data)
    store.close()
    import json

    line = json.loads(out.getvalue())
    assert outcome == "accepted" and ack is not None
    assert line["device"] == 7 and line["readings"][0]["name"] == "battery"
    assert line["readings"][0]["value"] == 3012 and line["bytes"] == len(data)
