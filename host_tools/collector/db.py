"""SQLite storage of the collector: one row per record, unique per (device, epoch, seq).

Surviving its database (docs/security.md): the file is opened in WAL mode (readers such as
`nbkit readings` never block the collector's writes), every statement waits up to
``busy_timeout_s`` for a lock another program holds, and a transaction that still fails with
an operational error (locked, busy, disk I/O, disk full) is retried ``retries`` times with a
bounded, doubling backoff. When it cannot store, :meth:`Store.store` raises
:class:`StoreUnavailable`: the collector then does not ack, so the device keeps the readings
and sends them again later. Nothing acked is ever lost, and no database error ends the process.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbkit.proto import codes

from host_tools.errors import CommandError

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


#: defaults: worst case about busy_timeout * (retries + 1) + the backoff sum, ~4.5 s per frame
BUSY_TIMEOUT_S = 1.0
RETRIES = 3
BACKOFF_S = (0.1, 0.2, 0.4)


class StoreUnavailable(Exception):
    """The database refused a frame's transaction after every retry: do not ack it."""


def check_writable(path: Path) -> None:
    """CommandError unless ``path`` can be the collector's database: checked before SQLite
    opens it, by mode bits too (root may write a read-only file; the collector must not)."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise CommandError(f"--db {path} is a folder - give a file name, e.g. {path}/readings.db")
    if not parent.is_dir():
        raise CommandError(f"--db {path}: no folder {parent} - create it or give another path")
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if not mode & stat.S_IWUSR or not os.access(path, os.W_OK):
            raise CommandError(
                f"--db {path} is read-only (mode {mode:04o}) - the collector writes it: "
                f"`chmod u+w {path}` or give another file"
            )
    elif not os.access(parent, os.W_OK):
        raise CommandError(f"--db {path}: cannot create files in {parent} - give another path")


class Store:
    """The readings table; ``store()`` is one transaction per frame."""

    def __init__(
        self,
        path: Path,
        *,
        readonly: bool = False,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        retries: int = RETRIES,
        backoff_s: tuple[float, ...] = BACKOFF_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(path)
        self.retries = retries
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.clock: Callable[[], float] = time.time  # the received column (a rig: device time)
        self.failures = 0  # transactions that failed (each retried or refused)
        try:
            # the server thread owns the connection; tests create it elsewhere first
            if readonly:
                uri = f"file:{self.path.resolve().as_posix()}?mode=ro"
                self.conn = sqlite3.connect(
                    uri, uri=True, timeout=busy_timeout_s, check_same_thread=False
                )
                self.conn.execute("SELECT count(*) FROM readings").fetchone()
            else:
                self.conn = sqlite3.connect(
                    str(self.path), timeout=busy_timeout_s, check_same_thread=False
                )
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.executescript(SCHEMA)
                cols = [row[1] for row in self.conn.execute("PRAGMA table_info(readings)")]
                if "epoch" not in cols:  # a database of frame format v1: its rows -> epoch 0
                    self.conn.executescript("BEGIN;" + _MIGRATE_V1 + "COMMIT;")
        except sqlite3.Error as exc:
            raise CommandError(
                f"{self.path}: cannot open the readings database ({exc}) - check that it is "
                "an nbkit collector database and that no other program holds it"
            ) from exc

    def store(
        self, device: int, records: list[tuple[int, int, int, int]], epoch: int = 0
    ) -> tuple[int, int]:
        """Insert new records -> (new, duplicates); ValueError if an (epoch, seq) was reused;
        StoreUnavailable when the database refused it after every retry."""
        for attempt in range(self.retries + 1):
            try:
                return self._store_once(device, records, epoch)
            except sqlite3.Error as exc:
                self.failures += 1
                if attempt == self.retries:
                    raise StoreUnavailable(f"{exc} (after {self.retries + 1} attempts)") from exc
                self.sleep(self.backoff_s[min(attempt, len(self.backoff_s) - 1)])
        raise AssertionError("unreachable")

    def _store_once(
        self, device: int, records: list[tuple[int, int, int, int]], epoch: int
    ) -> tuple[int, int]:
        now = self.clock()
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
