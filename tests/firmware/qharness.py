# Power-cut harness for the durable queue (used by test_queue_powercut.py): runs one scripted
# life of a queue on a fresh littlefs image, cuts the power at flash write k, "reboots" by
# mounting the same image bytes through a new block device, and checks what survived.
from nbkit.hal import flash
from nbkit.proto import codes, frame
from nbkit.store.queue import Queue

BLOCK_SIZE = 512
BLOCKS = 64
MOUNT = "/flash"
QDIR = "/flash/q"
SEG_RECORDS = 4
MAX_SEGMENTS = 4


_base = None  # a freshly formatted image, made once
_work = None  # the image each life runs on (reused: two 32 KiB buffers in all)


def fresh_image():
    global _base, _work
    if _base is None:
        _base = flash.new_image(BLOCK_SIZE, BLOCKS)
        flash.format(flash.RamBlockDevice(_base, BLOCK_SIZE))
        _work = bytearray(len(_base))
    _work[:] = _base
    return _work


BIG = False  # True: records of up to MAX_RECORD bytes, so segments spill into data blocks


def record(i):
    # Distinct, recognisable content per append: a real packed reading (9 bytes), or with BIG
    # a longer record whose length varies to move segment sizes across littlefs block limits.
    if BIG:
        return b"rec%03d" % i + b"." * (20 + 9 * (i % 5))
    return frame.pack_record(1764000000 + 900 * i, codes.WATER_L, 1000 + 7 * i)


class Observer:
    # What the application could have observed before the cut.

    def __init__(self):
        self.attempted = {}  # seq -> data of every append started (its seq is predictable)
        self.returned = set()  # seqs whose append() returned
        self.acked = set()  # seqs acknowledged by an ack call that returned
        self.maybe_acked = set()  # seqs of the ack call that was interrupted
        self.dropped = 0  # q.dropped after the last call that returned
        self.batches = []  # the seqs of each append_all() started: all of them stay or none

    def append(self, q, i):
        self.attempted[q.next_seq] = record(i)
        seq = q.append(record(i))
        assert self.attempted[seq] == record(i), seq
        self.returned.add(seq)
        self.dropped = q.dropped

    def append_all(self, q, items):
        datas = [record(i) for i in items]
        first = q.next_seq
        batch = set(range(first, first + len(datas)))
        for k, data in enumerate(datas):
            self.attempted[first + k] = data
        self.batches.append(batch)
        assert q.append_all(datas) == first
        self.returned |= batch
        self.dropped = q.dropped

    def ack_range(self, q, first, last):
        span = set(range(first, last + 1))
        self.maybe_acked = span
        q.ack_range(first, last)
        self.acked |= span
        self.maybe_acked = set()
        self.dropped = q.dropped


def life(q, obs):
    # Appends across segment boundaries, in-order and out-of-order acks, a full queue that
    # drops its oldest segment, acks after drops, and an ack of everything.
    n = 0
    for _ in range(6):
        obs.append(q, n)
        n += 1
    obs.ack_range(q, 0, 3)
    for _ in range(5):
        obs.append(q, n)
        n += 1
    obs.ack_range(q, 8, 9)  # out of order: 4..7 still pending
    obs.ack_range(q, 4, 7)
    for _ in range(14):  # beyond the 16-record capacity: the oldest segments are dropped
        obs.append(q, n)
        n += 1
    first = q.pending(1)[0][0]
    obs.ack_range(q, first, first + 2)
    for _ in range(3):
        obs.append(q, n)
        n += 1
    obs.ack_range(q, q.floor, q.next_seq - 1)  # everything: every segment file is deleted
    for _ in range(2):  # and sequence numbers still continue from the state file
        obs.append(q, n)
        n += 1
    for size in (3, 2):  # a sample's records in one commit (the first one opens a segment)
        obs.append_all(q, range(n, n + size))
        n += size


def run(fail_at):
    # One life with the power cut at write fail_at (None: no cut) -> (image, observer, writes).
    image = fresh_image()
    bdev = flash.RamBlockDevice(image, BLOCK_SIZE)
    flash.mount(bdev, MOUNT, create=False)
    obs = Observer()
    bdev.fail_at = fail_at
    try:
        life(Queue(QDIR, SEG_RECORDS, MAX_SEGMENTS), obs)
        cut = False
    except OSError:
        cut = True
    flash.umount(MOUNT)
    assert cut == (fail_at is not None and fail_at < bdev.writes), (fail_at, bdev.writes)
    return image, obs, bdev.writes


def reboot(image):
    flash.umount(MOUNT)
    flash.mount(flash.RamBlockDevice(image, BLOCK_SIZE), MOUNT, create=False)
    return Queue(QDIR, SEG_RECORDS, MAX_SEGMENTS)


def check(image, obs, k):
    q = reboot(image)
    pending = q.pending(1000)
    seqs = [s for s, _ in pending]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), (k, seqs)
    for seq, data in pending:
        assert obs.attempted.get(seq) == data, ("corrupt or unknown record", k, seq, data)
        assert seq not in obs.acked, ("acknowledged record came back", k, seq)
    for batch in obs.batches:  # one commit: every record of it is there, or none
        assert len(batch & set(seqs)) in (0, len(batch)), ("half a batch", k, batch, seqs)
    lowest = seqs[0] if seqs else q.next_seq
    missing = obs.returned - obs.acked - obs.maybe_acked - set(seqs)
    for seq in missing:  # only the full policy may lose records: the oldest, and counted
        assert seq < lowest, ("unacknowledged record lost", k, seq, seqs)
    assert q.dropped >= obs.dropped, ("drop count went back", k, q.dropped, obs.dropped)
    assert len(missing) <= q.dropped, ("loss not counted", k, missing, q.dropped)
    seen = obs.returned | set(seqs)
    new = q.append(b"after-reboot")
    assert new > max(seen) if seen else True, ("sequence number reused", k, new, max(seen))
    after = q.pending(1000)
    assert after[-1] == (new, b"after-reboot"), (k, after[-1:])
    q2 = reboot(image)  # and the state after the reboot is itself durable
    assert q2.pending(1000) == after, ("second reboot differs", k)
    assert q2.counts() == q.counts(), ("second reboot counts differ", k)
    flash.umount(MOUNT)


def sweep(part, parts):
    # Cut at every write index k with k % parts == part -> number of indexes tried.
    _, _, total = run(None)
    tried = 0
    for k in range(part, total, parts):
        image, obs, _ = run(k)
        check(image, obs, k)
        tried += 1
    return tried, total
