# Durable queue of readings on flash: append, send what is pending, drop what the collector
# acknowledged, and lose nothing acknowledged-or-not at any power cut.
#
# On flash (a directory on littlefs):
#   <dir>/<first seq as 8 hex digits>  segment files, append-only, at most seg_records records:
#                                      record = seq u32 | len u8 | crc32 u32 | data (len bytes)
#                                      crc32 covers seq, len and data (little-endian fields)
#   <dir>/state                        "NBQ1" | floor u32 | next u32 | dropped u32 | n u8 |
#                                      n x (first u32, last u32) acked ranges | crc32 u32
# Every seq < floor is gone (acked or dropped); seqs inside an acked range are gone too;
# every other record found in a segment is pending.
#
# Why a power cut at any write is safe:
# - append() writes one record and closes the file (append_all() several, in one write to one
#   segment); littlefs commits at close, so the records are there whole or not at all. The CRC
#   and the seq check also catch a torn tail on any other filesystem: scanning stops at the
#   first bad record and that segment takes no more appends.
#   append() returns the seq only after the commit, so a torn record's seq was never seen by
#   anyone and may be given again.
# - ack()/drops write the whole state to state.tmp and rename it over state (atomic in littlefs):
#   the old or the new state, never half. Segment files are deleted only after that, and any a
#   cut leaves behind are deleted at the next start. An ack is durable when ack() returns.
# - next seq = max(state.next, end of the newest segment): sequence numbers are never reused,
#   even when every segment has been deleted.
#
# Full policy: at most max_segments segments (capacity max_segments x seg_records records).
# Starting a segment beyond that (or the filesystem reporting ENOSPC) drops the OLDEST segment;
# its unacknowledged records are added to `dropped` (durable, cumulative) which the application
# reports upstream as a codes.QUEUE_DROPPED event carrying the total.
import errno
import gc
import os
import struct
from binascii import crc32

try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


MAX_RECORD = const(64)  # bytes of data in one record
MAX_SEG_RECORDS = const(256)  # seg_records limit; a segment is read whole (bounded RAM)
MAX_RANGES = const(8)  # out-of-order acked ranges kept; beyond that an ack is refused (resent)
_HDR = const("<IBI")
_HDR_SIZE = const(9)
_STATE_HEAD = const("<4sIIIB")
_STATE_HEAD_SIZE = const(17)
_MAGIC = const(b"NBQ1")
_U32 = const(0xFFFFFFFF)
_ENOSPC = const(28)  # littlefs LFS_ERR_NOSPC; MicroPython's errno module has no ENOSPC


def _crc(head, data):
    return crc32(data, crc32(head)) & _U32


class Queue:
    def __init__(self, path, seg_records=32, max_segments=8):
        if not 1 <= seg_records <= MAX_SEG_RECORDS or max_segments < 1:
            raise ValueError("need 1 <= seg_records <= %d and max_segments >= 1" % MAX_SEG_RECORDS)
        self.path = path
        self.seg_records = seg_records
        self.max_segments = max_segments
        self.floor = 0  # every seq below is gone (acked or dropped)
        self.next_seq = 0  # seq of the next append
        self.dropped = 0  # records lost to the full policy, since the queue was made
        self.ranges = []  # type: list  # [first, last] acked above the floor, sorted
        self.segs = []  # type: list  # [first seq, valid records] per segment file, oldest first
        self.open_seg = False  # may the newest segment take more records?
        try:
            os.mkdir(path)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
        self._load_state()
        self._scan()
        self._collect()

    # -- API -----------------------------------------------------------------------

    def append(self, data):
        # Store one record durably -> its sequence number.
        return self.append_all((data,))

    def append_all(self, datas):
        # Store records durably in one commit: after a power cut all of them are there or none
        # (one file write, in one segment) -> the sequence number of the first.
        if not 0 < len(datas) <= self.seg_records:
            raise ValueError("1..%d records at once, got %d" % (self.seg_records, len(datas)))
        for data in datas:
            if not 0 < len(data) <= MAX_RECORD:
                raise ValueError("record must be 1..%d bytes, got %d" % (MAX_RECORD, len(data)))
        try:
            return self._append(datas)
        except OSError as exc:
            if exc.errno != _ENOSPC or len(self.segs) < 2:
                raise
        self._drop_oldest()  # filesystem full before the queue is: make room, try once more
        return self._append(datas)

    def newest(self):
        # -> (seq, data) of the last record appended if it is still stored, else None
        if not self.segs or self.segs[-1][0] + self.segs[-1][1] != self.next_seq:
            return None
        records = self._records(self.segs[-1][0])[0]
        return records[-1] if records else None

    def pending(self, limit=16):
        # Oldest unacknowledged records first -> [(seq, data)], at most limit of them.
        out = []
        for first, count in self.segs:
            if first + count <= self.floor:
                continue
            for seq, data in self._records(first)[0]:
                if seq >= self.floor and not self._acked(seq):
                    out.append((seq, data))
                    if len(out) >= limit:
                        return out
        return out

    def ack(self, upto):
        # Every record with seq <= upto was received: drop them.
        if upto < self.floor:
            return False
        return self.ack_range(self.floor, upto)

    def ack_range(self, first, last):
        # Records first..last (inclusive) were received: drop them; durable when this returns.
        # -> True when the state changed; False for nothing new or too many scattered ranges
        # (the records then stay pending and are acknowledged again when resent).
        if last < first:
            raise ValueError("ack range %d..%d is empty" % (first, last))
        first = max(first, self.floor)
        last = min(last, self.next_seq - 1)
        if first > last:
            return False
        ranges = _merge(self.ranges, first, last)
        floor = self._first_pending(self.floor, ranges)
        ranges = [r for r in ranges if r[1] >= floor]
        if len(ranges) > MAX_RANGES:
            return False
        if floor == self.floor and ranges == self.ranges:
            return False
        self._save(floor, ranges, self.dropped)
        self._collect()
        return True

    def counts(self):
        pending = 0
        for first, count in self.segs:
            pending += self._pending_in(first, first + count)
        return {
            "pending": pending,
            "next_seq": self.next_seq,
            "dropped": self.dropped,
            "segments": len(self.segs),
            "capacity": self.seg_records * self.max_segments,
        }

    # -- records and segments ------------------------------------------------------

    def _name(self, first):
        return "%s/%08x" % (self.path, first)

    def _records(self, first):
        # -> ([(seq, data)] of the segment's valid prefix, torn?) where torn means bytes follow
        # that prefix. Read whole and closed here: never leave a file open (a suspended reader
        # would hold a littlefs handle until the garbage collector finds it). Bounded by
        # MAX_SEG_RECORDS x (9 + MAX_RECORD) bytes; normally seg_records x (9 + 9).
        out = []  # type: list
        try:
            f = open(self._name(first), "rb")
        except OSError:
            return out, False
        with f:
            while len(out) < MAX_SEG_RECORDS:
                head = f.read(_HDR_SIZE)
                if len(head) < _HDR_SIZE:
                    return out, len(head) > 0
                seq, size, crc = struct.unpack(_HDR, head)
                if seq != first + len(out) or not 0 < size <= MAX_RECORD:
                    return out, True
                data = f.read(size)
                if len(data) < size or _crc(head[:5], data) != crc:
                    return out, True
                out.append((seq, data))
            return out, len(f.read(1)) > 0

    def _scan(self):
        self.segs = []
        firsts = []
        for entry in os.ilistdir(self.path):
            name = entry[0]
            if len(name) == 8 and entry[1] == 0x8000:
                try:
                    firsts.append(int(name, 16))
                except ValueError:
                    pass  # not a segment
        firsts.sort()
        # The counts first, the long-lived segs entries after every read: allocated between the
        # reads' garbage, they would pin the freed heap into pieces too small for the modem
        # stack's code (a MemoryError after a few days of backlog).
        counts = [0] * len(firsts)
        torn = False
        for i in range(len(firsts)):
            records, torn = self._records(firsts[i])
            counts[i] = len(records)
            records = None
        self.open_seg = bool(firsts) and not torn
        gc.collect()
        self.segs = [[firsts[i], counts[i]] for i in range(len(firsts))]
        if self.segs:
            first, count = self.segs[-1]
            self.next_seq = max(self.next_seq, first + count)
            self.open_seg = self.open_seg and first + count == self.next_seq

    def _append(self, datas):
        if not self.open_seg or self.segs[-1][1] + len(datas) > self.seg_records:
            while len(self.segs) >= self.max_segments:
                self._drop_oldest()
            self.segs.append([self.next_seq, 0])
            self.open_seg = True
        first = self.next_seq
        out = b""
        for i in range(len(datas)):
            head = struct.pack("<IB", first + i, len(datas[i]))
            out += head + struct.pack("<I", _crc(head, datas[i])) + datas[i]
        try:
            with open(self._name(self.segs[-1][0]), "ab") as f:
                f.write(out)
        except OSError:
            self.open_seg = False  # its tail is unknown now: the next record starts a segment
            raise
        self.segs[-1][1] += len(datas)
        self.next_seq = first + len(datas)
        return first

    def _drop_oldest(self):
        first, count = self.segs[0]
        lost = self._pending_in(first, first + count)
        floor = self.segs[1][0] if len(self.segs) > 1 else self.next_seq
        floor = max(floor, self.floor)
        ranges = [r for r in self.ranges if r[1] >= floor]
        try:
            self._save(floor, ranges, self.dropped + lost)
        except OSError as exc:
            if exc.errno != _ENOSPC:
                raise
            # No room even for the new state: free the segment first. Only a cut in this
            # window loses the count (size the queue below the filesystem to never get here).
            self._remove(first)
            self._save(floor, ranges, self.dropped + lost)
        self._collect()  # deletes it: every seq in it is now below the floor

    def _remove(self, first):
        try:
            os.remove(self._name(first))
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise

    def _collect(self):
        # Delete the segments with nothing pending (after the state saying so is durable).
        keep = []
        for seg in self.segs:
            if self._pending_in(seg[0], seg[0] + seg[1]):
                keep.append(seg)
            else:
                self._remove(seg[0])
                if seg is self.segs[-1]:
                    self.open_seg = False
        self.segs = keep

    # -- acknowledgement state -------------------------------------------------------

    def _acked(self, seq):
        for a, b in self.ranges:
            if a <= seq <= b:
                return True
        return False

    def _pending_in(self, lo, hi):
        # How many seqs in lo..hi-1 are neither below the floor nor acked.
        lo = max(lo, self.floor)
        n = max(0, hi - lo)
        for a, b in self.ranges:
            n -= max(0, min(b + 1, hi) - max(a, lo))
        return n

    def _first_pending(self, floor, ranges):
        # Lowest seq of a stored record that is >= floor and outside ranges (sorted, merged).
        for first, count in self.segs:
            seq = max(first, floor)
            for a, b in ranges:
                if a <= seq <= b:
                    seq = b + 1
            if seq < first + count:
                return seq
        return self.next_seq

    def _save(self, floor, ranges, dropped):
        body = struct.pack(_STATE_HEAD, _MAGIC, floor, self.next_seq, dropped, len(ranges))
        for a, b in ranges:
            body += struct.pack("<II", a, b)
        body += struct.pack("<I", crc32(body) & _U32)
        tmp = self.path + "/state.tmp"
        with open(tmp, "wb") as f:
            f.write(body)
        os.rename(tmp, self.path + "/state")
        self.floor = floor
        self.ranges = ranges
        self.dropped = dropped

    def repair(self):
        # After a damaged state file (state_damaged) was dealt with (app.wiring: a new epoch),
        # write the state as the scan rebuilt it, so the next boot does not see the damage again.
        self._save(self.floor, self.ranges, self.dropped)
        self.state_damaged = False

    def _load_state(self):
        self.floor = 0
        self.next_seq = 0
        self.dropped = 0
        self.ranges = []
        self.state_damaged = False  # a state file was there but unreadable (not expected)
        try:
            os.remove(self.path + "/state.tmp")  # a cut before the rename: the old state holds
        except OSError:
            pass
        try:
            with open(self.path + "/state", "rb") as f:
                body = f.read(_STATE_HEAD_SIZE + 8 * MAX_RANGES + 4)
        except OSError:
            return  # a new queue
        try:
            magic, floor, nxt, dropped, n = struct.unpack(_STATE_HEAD, body[:_STATE_HEAD_SIZE])
            end = _STATE_HEAD_SIZE + 8 * n
            ok = magic == _MAGIC and n <= MAX_RANGES and len(body) == end + 4
            ok = ok and struct.unpack("<I", body[end:])[0] == crc32(body[:end]) & _U32
        except ValueError:
            ok = False
        if not ok:
            self.state_damaged = True
            return
        self.floor, self.next_seq, self.dropped = floor, max(nxt, floor), dropped
        for i in range(n):
            at = _STATE_HEAD_SIZE + 8 * i
            self.ranges.append(list(struct.unpack("<II", body[at : at + 8])))


def _merge(ranges, first, last):
    # Sorted, non-overlapping, non-adjacent copy of ranges plus first..last.
    out = []  # type: list
    for a, b in sorted(ranges + [[first, last]]):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out
