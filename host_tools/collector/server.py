"""UDP server of the collector: one datagram in, at most one ack out (see package docstring)."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

from nbkit.proto import codes, frame

from host_tools.collector.db import Store, StoreUnavailable

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
UNKNOWN_DEVICE = "unknown_device"
SEQ_REUSED = "seq_reused"
STORE_FAILED = "store_failed"  # the database refused it (locked, disk full): not acked


class Collector:
    """Frame handling without sockets: ``handle(datagram)`` -> (ack or None, outcome)."""

    def __init__(
        self, store: Store, keys: dict[int, bytes], out: TextIO = sys.stdout, as_json: bool = False
    ) -> None:
        self.store = store
        self.keys = keys
        self.out = out
        self.as_json = as_json
        self.counts: Counter[str] = Counter()
        self.output_lost = False  # stdout went away; uplinks are stored and acked all the same
        self.log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr, flush=True)
        #: the rig's time master participant (``--clock sim:...``): device time for the
        #: received column and the uplink events, and the UDP intake's datagram counters
        self.sim: Any = None
        self.sim_counts: dict[str, int] = {}

    def handle(self, data: bytes, peer: str = "") -> tuple[bytes | None, str]:
        try:
            ftype, device, epoch, body = frame.parse(data)
            if ftype != frame.DATA:
                raise frame.FrameError(frame.BAD_TYPE, f"frame type {ftype} is not DATA")
        except frame.FrameError as exc:
            return self._refuse(exc.reason, str(exc), peer)
        key = self.keys.get(device)
        if key is None:
            return self._refuse(UNKNOWN_DEVICE, f"device {device} has no key", peer)
        if not frame.verify(data, key):
            return self._refuse(frame.FORGED, f"tag does not match device {device}'s key", peer)
        records: list[tuple[int, int, int, int]] = body
        try:
            new, _dup = self.store.store(device, records, epoch)
        except ValueError as exc:
            # Authentic, but its (epoch, seq) names records held with other content: the
            # device's counters went back (restored or damaged flash it did not notice). Store
            # and ack nothing; tell it (bound to this uplink) which epoch to move to.
            nxt = self.store.max_epoch(device) + 1
            self._refuse(SEQ_REUSED, f"{exc}: told to move to epoch {nxt}", peer)
            return frame.encode_epoch(device, key, nxt, data[-frame.TAG_SIZE :]), SEQ_REUSED
        except StoreUnavailable as exc:  # not stored, so not acked: the device sends it again
            why = f"database refused device {device} seq {records[0][0]}: {exc}; not acked"
            return self._refuse(STORE_FAILED, why, peer)
        outcome = ACCEPTED if new else DUPLICATE
        self.counts[outcome] += 1
        self.counts["records_stored"] += new
        if new:
            self._print(device, records, len(data), epoch)
        else:
            self.log(f"collector: duplicate device {device} seq {records[0][0]}: re-acked")
        return frame.ack_for(data, key), outcome

    def _refuse(self, reason: str, message: str, peer: str) -> tuple[None, str]:
        self.counts[reason] += 1
        self.log(f"collector: rejected {reason} from {peer or '?'}: {message}")
        return None, reason

    def _print(
        self, device: int, records: list[tuple[int, int, int, int]], size: int, epoch: int = 0
    ) -> None:
        first, last = records[0][0], records[-1][0]
        if self.as_json:
            rows = [
                {
                    "seq": s,
                    "t": t,
                    "code": c,
                    "name": codes.name(c),
                    "value": v,
                    "unit": codes.unit(c),
                }
                for s, t, c, v in records
            ]
            line = json.dumps(
                {
                    "event": "uplink",
                    "device": device,
                    "epoch": epoch,
                    "seq_first": first,
                    "seq_last": last,
                    "bytes": size,
                    "received": round(self.store.clock(), 6),
                    "readings": rows,
                }
            )
        else:
            groups: dict[str, list[str]] = {}
            for _, _, c, v in records:
                groups.setdefault(f"{codes.name(c)}[{codes.unit(c)}]", []).append(str(v))
            shown = " ".join(f"{k}={','.join(v)}" for k, v in groups.items())
            line = (
                f"uplink device={device} epoch={epoch} seq={first}..{last} n={len(records)} "
                f"bytes={size} {shown}"
            )
        try:
            print(line, file=self.out, flush=True)
        except (OSError, ValueError) as exc:  # stdout closed (`| head`): storing goes on
            if not self.output_lost:
                self.log(f"collector: cannot print uplinks ({exc}); they are still stored")
            self.output_lost = True

    def summary(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def serve(
    collector: Collector,
    host: str,
    port: int,
    stop: threading.Event,
    ready: Callable[[tuple[str, int]], None] | None = None,
    *,
    lock: threading.Lock | None = None,
    handle: Callable[[bytes, str], tuple[bytes | None, str]] | None = None,
    extras: list[Any] | None = None,
) -> None:
    """Receive until ``stop`` is set; every datagram gets handled.

    ``lock``: held around each ``handle`` when other intakes share the collector; ``handle``:
    what handles a datagram instead of ``collector.handle`` (a SharedCollector's, which locks).
    An exception from it ends the loop: the supervisor (collector.supervise) restarts it.
    ``extras``: under a time master, more intakes this loop serves too (``TcpIntake``,
    ``MqttSimIntake``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
        sock.settimeout(0.05)
        if ready:
            ready(sock.getsockname())
        if collector.sim is not None:
            _serve_sim(collector, sock, stop, handle or collector.handle, extras or [])
            return
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(frame.MAX_FRAME + 1)  # one more: oversize shows
            except TimeoutError:
                continue
            except OSError as exc:  # e.g. ICMP port unreachable surfacing on Linux
                collector.log(f"collector: receive error {exc}")
                time.sleep(0.001)
                continue
            if handle is not None:
                reply, _ = handle(data, f"{addr[0]}:{addr[1]}")
            else:
                with lock or contextlib.nullcontext():
                    reply, _ = collector.handle(data, f"{addr[0]}:{addr[1]}")
            if reply is not None:
                try:
                    sock.sendto(reply, addr)
                except OSError as exc:
                    collector.log(f"collector: ack to {addr} failed: {exc}")
    finally:
        sock.close()


def _serve_sim(
    collector: Collector,
    sock: socket.socket,
    stop: threading.Event,
    handle: Callable[[bytes, str], tuple[bytes | None, str]],
    extras: list[Any],
) -> None:
    """The UDP intake under a time master: serve every datagram (and every ready socket of the
    ``extras``) at the master's instant; when none is left, report idle (the deadline: the
    first idle TCP connection's close, if any; a collector otherwise only answers) and block."""
    from host_tools.simclock.client import SimFailed

    sim, counts = collector.sim, collector.sim_counts
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setblocking(False)
    mine = sock.getsockname()[1]
    counts[f"udp.{mine}<"] = 0  # declared: datagrams sent here are awaited before time moves
    while not stop.is_set():
        watched = [sock, sim, *(s for x in extras for s in x.sockets())]
        ready, _, _ = select.select(watched, [], [], 0)
        if not ready:
            expiries = [t for t in (x.next_expiry() for x in extras) if t is not None]
            sim.report(min(expiries) if expiries else None)
            ready, _, _ = select.select(watched, [], [], 0.2)
        if sim in ready:
            try:
                sim.on_readable()
            except SimFailed as exc:
                collector.log(f"collector: {exc}")
                stop.set()
                return
        if sim.pending is None:  # acting at the master's instant: idle connections close
            for extra in extras:
                extra.expire()
        for extra in extras:
            for s in extra.sockets():
                if s in ready:
                    sim.go()  # input after `now`: its sender got `go` first
                    extra.on_ready(s)
        if sock in ready:
            sim.go()
            _serve_datagram(collector, sock, counts, handle)


def _serve_datagram(
    collector: Collector,
    sock: socket.socket,
    counts: dict[str, int],
    handle: Callable[[bytes, str], tuple[bytes | None, str]],
) -> None:
    try:
        data, addr = sock.recvfrom(frame.MAX_FRAME + 1)
    except (BlockingIOError, OSError):
        return
    key = f"udp.{sock.getsockname()[1]}<"
    counts[key] = counts.get(key, 0) + 1
    reply, _ = handle(data, f"{addr[0]}:{addr[1]}")
    if reply is not None:
        key = f"udp.{addr[1]}>"  # counted before it goes (in flight, never seen unsent)
        counts[key] = counts.get(key, 0) + 1
        try:
            sock.sendto(reply, addr)
        except OSError as exc:
            counts[key] -= 1
            collector.log(f"collector: ack to {addr} failed: {exc}")


def summary_line(counts: dict[str, Any]) -> str:
    return "collector summary: " + (", ".join(f"{k}={v}" for k, v in counts.items()) or "nothing")
