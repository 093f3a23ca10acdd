"""What the emulator writes down: the byte spy log and the modem state timeline (JSON Lines)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import IO

#: the states of the energy model's timeline (docs/architecture.md)
STATES = ("off", "boot", "search", "connected", "tx", "awake", "idle", "edrx", "psm")
#: states in which the module sleeps; leaving one for "awake" is a UART wake
ASLEEP = ("off", "psm", "edrx")  # edrx: asleep between paging windows


def _escape(data: bytes) -> str:
    """Bytes as readable text: printable ASCII kept, \\r \\n \\t \\\\, the rest as \\xNN."""
    return data.decode("latin-1").encode("unicode_escape").decode("ascii")


class Spy:
    """Every byte both ways, one JSON object per read/write.

    ``{"wall": <unix s>, "t": <virtual s>, "dir": "to_modem"|"from_modem"|"udp_sent"|
    "udp_received", "hex": "...", "text": "<escaped>"}`` (UDP records add ``"peer"``; the
    Quectel personas add ``tcp_sent``/``tcp_received``, ``mqtt_published``/``mqtt_received``
    with the peer or topic in ``"peer"``).
    """

    def __init__(self, stream: IO[str] | None, now: Callable[[], float]) -> None:
        self.stream = stream
        self.now = now

    def record(self, direction: str, data: bytes, peer: str | None = None) -> None:
        if self.stream is None:
            return
        rec: dict[str, object] = {
            "wall": round(time.time(), 6),
            "t": round(self.now(), 6),
            "dir": direction,
            "hex": data.hex().upper(),
            "text": _escape(data),
        }
        if peer is not None:
            rec["peer"] = peer
        self.stream.write(json.dumps(rec) + "\n")
        self.stream.flush()


class Timeline:
    """Modem state timeline: one ``{"t", "state", "ce"}`` record per state entry.

    A state lasts until the next record; a change of CE level alone also writes a record.
    ``awake`` is the module woken from PSM (or CFUN=0 sleep) by the DTE's UART bytes; its
    record carries ``"cause"`` (the start of the waking command line) and counts in ``wakes``.
    With ``model`` (the persona's modem model, e.g. ``BC28``) the stream opens with one header
    line ``{"model": ...}`` that names the modem the timeline was recorded from.
    """

    def __init__(self, stream: IO[str] | None, model: str | None = None) -> None:
        self.stream = stream
        if stream is not None and model:
            stream.write(json.dumps({"model": model}) + "\n")
            stream.flush()
        self.state: str | None = None
        self.ce = 0
        self.edrx: tuple[float, float] | None = None
        self.entries: list[tuple[float, str, int]] = []  # kept in memory for tests and stats
        self.wakes = 0  # UART wakes: entries into "awake" from a sleeping state
        self.causes: list[tuple[float, str]] = []  # (t, cause) of the recent wakes

    def enter(
        self,
        t: float,
        state: str,
        ce: int | None = None,
        cause: str | None = None,
        edrx: tuple[float, float] | None = None,
    ) -> None:
        """``edrx``: (cycle s, paging time window s) of the ``edrx`` state (its current is the
        idle DRX current for the window's share of each cycle: host_tools.energy.model)."""
        if state not in STATES:
            raise ValueError(f"unknown modem state {state!r}")
        ce = self.ce if ce is None else ce
        edrx = edrx if state == "edrx" else None
        if state == self.state and ce == self.ce and edrx == self.edrx:
            return
        if state == "awake" and self.state in ASLEEP:
            self.wakes += 1
            self.causes.append((t, cause or "uart"))
            if len(self.causes) > 1000:
                del self.causes[:500]
        self.state, self.ce, self.edrx = state, ce, edrx
        self.entries.append((t, state, ce))
        if len(self.entries) > 10000:
            del self.entries[:5000]
        if self.stream is not None:
            rec: dict[str, object] = {"t": round(t, 6), "state": state, "ce": ce}
            if cause is not None and state == "awake":
                rec["cause"] = cause
            if edrx is not None:
                rec["edrx"] = [round(edrx[0], 3), round(edrx[1], 3)]
            self.stream.write(json.dumps(rec) + "\n")
            self.stream.flush()
