# The application's surroundings for firmware tests: a link that acks every frame it carries
# (UdpLink's calls), a modem with stats, and a RAM littlefs standing in for the board's flash.
import sys

from nbkit.hal import flash
from nbkit.lte import rai
from nbkit.proto import frame

KEY = b"k" * 16
DEVICE = 7


class _Module:
    pass


def build_profile(name):
    # Stand in for the generated nbkit.build_profile module: PROFILE = name (None: no PROFILE,
    # as in a build that never wrote one).
    mod = _Module()
    if name is not None:
        mod.PROFILE = name
    sys.modules["nbkit.build_profile"] = mod


class Modem:
    def __init__(self):
        self.last_error = None

    def ue_stats(self):
        return {"Signal power": -853, "ECL": 1}


class Link:
    # UdpLink's four calls. fail: how many up() calls fail first. Acks every frame it carries.
    def __init__(self, queue, fail=0, on_send=None):
        self.modem = Modem()
        self.queue = queue
        self.fail = fail
        self.on_send = on_send
        self.ups = []  # pending records in the queue at each up(): durable before the radio
        self.sent = []  # (records, flag)
        self.replies = []

    def up(self):
        self.ups.append(self.queue.counts()["pending"])
        if self.fail:
            self.fail -= 1
            self.modem.last_error = "no network"
            return False
        return True

    def send(self, data, last=True, expect_reply=True):
        seq_first, recs = _records(data)
        self.sent.append(([(c, v) for _, c, v in recs], rai.nsostf_flag(last, expect_reply)))
        self.replies.append(frame.ack_for(data, KEY))
        if self.on_send:
            self.on_send(self)

    def receive(self, timeout_ms):
        out, self.replies = self.replies, []
        return out

    def granted(self):
        return (True, 10, 86400)

    def down(self):
        pass


def _records(data):
    # -> (first seq, [(t, code, value)])
    _, records = frame.decode_data(data, KEY)
    return records[0][0], [r[1:] for r in records]


def fresh_fs(mount):
    # a blank littlefs in RAM mounted at `mount` (the board's flash)
    try:
        flash.umount(mount)
    except OSError:
        pass
    bdev = flash.RamBlockDevice(flash.new_image(512, 128), 512)
    flash.format(bdev)
    flash.mount(bdev, mount, create=False)
