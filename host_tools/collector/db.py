"""SQLite storage of the collector: one row per record, unique per (device, epoch, seq)."""

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
    epoch INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (device, epoch, seq));
"""
#: a database of the frame format v1 (no epoch): its rows become epoch 0
_MIGRATE_V1 = (
    """
ALTER TABLE readings RENAME TO readings_v1;
"""
    + SCHEMA
    + """
INSERT INTO readings (device, seq, t, code, name, value, unit, received, epoch)
    SELECT device, seq, t, code, name, value, unit, received, 0 FROM readings_v1;
DROP TABLE readings_v1;
"""
)
_COLUMNS = "device, seq, t, code, name, value, unit, received, epoch"


class Store:
    """The readings table; ``store()`` is one transaction per frame."""

    def __init__(self, path: Path) -> None:
        # the server thread owns the connection; tests create it elsewhere first
        self.conn = sqlite3.connect(str(path), check_same_thread=False)
        self.conn.executescript(SCHEMA)
        cols = [row[1] for row in self.conn.execute("PRAGMA table_info(readings)")]
        if "epoch" not in cols:
            self.conn.executescript("BEGIN;" + _MIGRATE_V1 + "COMMIT;")

    def store(
        self, device: int, records: list[tuple[int, int, int, int]], epoch: int = 0
    ) -> tuple[int, int]:
        """Insert new records -> (new, duplicates); ValueError if an (epoch, seq) was reused."""
        now = time.time()
        new = dup = 0
        with self.conn:
            for seq, t, code, value in records:
                row = self.conn.execute(
                    "SELECT t, code, value FROM readings WHERE device=? AND epoch=? AND seq=?",
                    (device, epoch, seq),
                ).fetchone()
                if row is None:
                    self.conn.execute(
                        f"INSERT INTO readings ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                        (device, seq, t, code, codes.name(code), value, codes.unit(code), now)
                        + (epoch,),
                    )
                    new += 1
                elif tuple(row) == (t, code, value):
                    dup += 1
                else:
                    raise ValueError(
                        f"device {device} epoch {epoch} seq {seq} stored as {tuple(row)}"
                    )
        return new, dup

    def max_epoch(self, device: int) -> int:
        """The highest epoch stored for device (0 when none)."""
        row = self.conn.execute("SELECT MAX(epoch) FROM readings WHERE device=?", (device,))
        return int(row.fetchone()[0] or 0)

    def rows(self, device: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT device, epoch, seq, t, code, name, value, unit, received FROM readings"
        args: tuple[Any, ...] = ()
        if device is not None:
            sql += " WHERE device=?"
            args = (device,)
        cur = self.conn.execute(sql + " ORDER BY device, epoch, seq", args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def close(self) -> None:
        self.conn.close()
