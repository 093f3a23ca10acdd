"""SQLite storage of the collector: one row per record, unique per (device, seq)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from nbkit.proto import codes

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    device INTEGER NOT NULL, seq INTEGER NOT NULL, t INTEGER NOT NULL, code INTEGER NOT NULL,
    name TEXT NOT NULL, value INTEGER NOT NULL, unit TEXT NOT NULL, received REAL NOT NULL,
    PRIMARY KEY (device, seq));
"""


class Store:
    """The readings table; ``store()`` is one transaction per frame."""

    def __init__(self, path: Path) -> None:
        # the server thread owns the connection; tests create it elsewhere first
        self.conn = sqlite3.connect(str(path), check_same_thread=False)
        self.conn.executescript(SCHEMA)

    def store(self, device: int, records: list[tuple[int, int, int, int]]) -> tuple[int, int]:
        """Insert new records -> (new, duplicates); ValueError if a seq was reused."""
        now = time.time()
        new = dup = 0
        with self.conn:
            for seq, t, code, value in records:
                row = self.conn.execute(
                    "SELECT t, code, value FROM readings WHERE device=? AND seq=?", (device, seq)
                ).fetchone()
                if row is None:
                    self.conn.execute(
                        "INSERT INTO readings VALUES (?,?,?,?,?,?,?,?)",
                        (device, seq, t, code, codes.name(code), value, codes.unit(code), now),
                    )
                    new += 1
                elif tuple(row) == (t, code, value):
                    dup += 1
                else:
                    raise ValueError(f"device {device} seq {seq} stored as {tuple(row)}")
        return new, dup

    def rows(self, device: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT device, seq, t, code, name, value, unit, received FROM readings"
        args: tuple[Any, ...] = ()
        if device is not None:
            sql += " WHERE device=?"
            args = (device,)
        cur = self.conn.execute(sql + " ORDER BY device, seq", args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def close(self) -> None:
        self.conn.close()
