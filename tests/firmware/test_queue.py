# Durable queue behaviour on a littlefs2 image in RAM (see test_queue_powercut.py for cuts).
import gc
import os

from nbkit.hal import flash
from nbkit.store import queue
from nbkit.store.queue import Queue

HEAPSIZE = "128K"
IMAGE = flash.new_image(512, 64)
QDIR = "/flash/q"


def _boot(fresh=False):
    flash.umount("/flash")
    if fresh:
        erased = b"\xff" * 512  # erased in place: no second image on the heap
        for i in range(0, len(IMAGE), 512):
            IMAGE[i : i + 512] = erased
        flash.format(flash.RamBlockDevice(IMAGE, 512))
    flash.mount(flash.RamBlockDevice(IMAGE, 512), "/flash", create=False)


def _seqs(q):
    return [s for s, _ in q.pending(1000)]


def test_append_pending_ack_and_reboot():
    _boot(fresh=True)
    q = Queue(QDIR, 4, 4)
    assert [q.append(b"r%d" % i) for i in range(6)] == [0, 1, 2, 3, 4, 5]
    assert q.pending(2) == [(0, b"r0"), (1, b"r1")]
    assert q.ack(2) is True and _seqs(q) == [3, 4, 5]
    assert q.ack(2) is False, "acknowledging again changes nothing"
    _boot()
    q = Queue(QDIR, 4, 4)
    assert _seqs(q) == [3, 4, 5] and q.counts()["pending"] == 3


def test_out_of_order_acks_from_frames_in_flight():
    _boot(fresh=True)
    q = Queue(QDIR, 4, 8)
    for _ in range(10):
        q.append(b"x")
    assert q.ack_range(4, 7) is True  # the second frame's ack arrived first
    assert _seqs(q) == [0, 1, 2, 3, 8, 9]
    q.ack_range(0, 3)
    assert _seqs(q) == [8, 9] and q.counts()["pending"] == 2


def test_full_queue_drops_the_oldest_and_counts_durably():
    _boot(fresh=True)
    q = Queue(QDIR, 4, 2)
    for i in range(11):
        q.append(b"%d" % i)
    # 11 records, room for 2 segments of 4: starting the third dropped segment 0-3
    assert q.dropped == 4 and _seqs(q) == [4, 5, 6, 7, 8, 9, 10], (q.dropped, _seqs(q))
    q.ack(8)
    _boot()
    q = Queue(QDIR, 4, 2)
    assert q.counts()["dropped"] == 4 and _seqs(q) == [9, 10]


def test_sequence_numbers_continue_after_everything_is_acknowledged():
    _boot(fresh=True)
    q = Queue(QDIR, 4, 4)
    for _ in range(5):
        q.append(b"a")
    q.ack(4)
    assert [n for n in os.listdir(QDIR) if n != "state"] == []
    _boot()
    assert Queue(QDIR, 4, 4).append(b"b") == 5


def test_torn_tail_is_discarded_and_the_next_record_starts_a_segment():
    # littlefs never shows a torn append; a filesystem without atomic appends could.
    _boot(fresh=True)
    q = Queue(QDIR, 8, 4)
    for i in range(3):
        q.append(b"good%d" % i)
    with open(QDIR + "/00000000", "ab") as f:
        f.write(b"\x03\x00\x00\x00\x05\x11")  # half a header of record 3
    _boot()
    q = Queue(QDIR, 8, 4)
    assert _seqs(q) == [0, 1, 2]
    assert q.append(b"new") == 3 and q.pending(10)[-1] == (3, b"new")
    assert "00000003" in os.listdir(QDIR)
    _boot()
    assert Queue(QDIR, 8, 4).pending(10)[-1] == (3, b"new")


def test_a_corrupt_record_and_what_follows_it_are_never_returned():
    _boot(fresh=True)
    q = Queue(QDIR, 8, 4)
    for i in range(4):
        q.append(b"data%d" % i)
    with open(QDIR + "/00000000", "rb") as f:
        raw = bytearray(f.read())
    raw[2 * 14 + 10] ^= 0x01  # one bit of record 2's data (records are 9 + 5 bytes)
    with open(QDIR + "/00000000", "wb") as f:
        f.write(raw)
    _boot()
    q = Queue(QDIR, 8, 4)
    assert q.pending(10) == [(0, b"data0"), (1, b"data1")]


def test_a_long_life_of_largest_records_stays_within_capacity():
    _boot(fresh=True)
    q = Queue(QDIR, 4, 6)  # 24 records of 73 bytes: fits the 32 KiB filesystem
    for i in range(300):
        q.append(bytes([i & 0xFF]) * queue.MAX_RECORD)
    seqs = _seqs(q)
    assert seqs[-1] == 299 and len(seqs) <= 24 and q.dropped == 300 - len(seqs), q.counts()


def test_bad_records_are_refused():
    _boot(fresh=True)
    q = Queue(QDIR)
    for bad in (b"", b"x" * (queue.MAX_RECORD + 1)):
        try:
            q.append(bad)
        except ValueError:
            continue
        raise AssertionError("record of %d bytes stored" % len(bad))
    flash.umount("/flash")


def _largest_block():
    # the largest bytearray the heap can give now (after a collection), to 64 bytes
    gc.collect()
    lo, hi = 0, gc.mem_free()
    while hi - lo > 64:
        mid = (lo + hi) // 2
        try:
            bytearray(mid)
            lo = mid
        except MemoryError:
            hi = mid
        gc.collect()
    return lo


def test_opening_a_long_backlog_leaves_the_free_heap_in_one_piece():
    # Days of backlog are many segments, each read whole at open: what the queue keeps must not
    # land between those reads' garbage and cut the heap up (the modem stack's code loads next).
    _boot(fresh=True)
    q = Queue(QDIR, 16, 20)
    for i in range(20 * 16):
        q.append(b"reading %d" % i)
    q = None
    before = _largest_block()
    q = Queue(QDIR, 16, 20)
    assert q.counts()["segments"] == 20
    after = _largest_block()
    assert after >= before * 9 // 10, (before, after)


def test_append_all_gives_consecutive_seqs_in_one_segment_and_newest_reads_the_last():
    _boot(fresh=True)
    q = Queue(QDIR, 4, 4)
    assert q.newest() is None
    assert q.append(b"a") == 0 and q.append(b"b") == 1
    assert q.append_all([b"c", b"d", b"e"]) == 2  # 3 do not fit the open segment's 2 left
    assert q.counts()["segments"] == 2 and _seqs(q) == [0, 1, 2, 3, 4]
    assert q.newest() == (4, b"e")
    q.ack(4)
    assert q.newest() is None  # acked and gone
    for bad in ([], [b"x"] * 5, [b"ok", b""]):
        try:
            q.append_all(bad)
            raise AssertionError("accepted %r" % bad)
        except ValueError:
            pass
