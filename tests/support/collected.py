"""What the rig's collector stored for the test device (1042), as the e2e tests compare it."""

from __future__ import annotations

import sqlite3

from host_tools.rig.rig import Rig


def stored(rig: Rig) -> list[tuple[int, int, str, int]]:
    """(seq, t, name, value) of every stored reading, by sequence number."""
    with sqlite3.connect(rig.path("collector.db")) as db:
        found = db.execute(
            "SELECT seq, t, name, value FROM readings WHERE device = 1042 ORDER BY seq"
        )
        return [(int(s), int(t), str(n), int(v)) for s, t, n, v in found]


def named(rig: Rig, name: str) -> list[tuple[int, int]]:
    """(t, value) of the stored readings called name."""
    return [(t, v) for _, t, n, v in stored(rig) if n == name]
