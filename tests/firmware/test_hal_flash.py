# nbkit.hal.flash block devices: the power-cut hook at the k-th flash modification.
from nbkit.hal.flash import RamBlockDevice, new_image

HEAPSIZE = "64K"
_ERASE = 6


def _dev():
    return RamBlockDevice(new_image(256, 4), 256)


def test_the_failing_write_is_torn_by_default_and_the_device_dies():
    dev = _dev()
    dev.fail_at = 1
    assert dev.writeblocks(0, b"\x00" * 32, 0) == 0
    assert dev.writeblocks(1, b"\x11" * 32, 0) == -5  # -EIO
    assert dev.image[256:272] == b"\x11" * 16 and dev.image[272:288] == b"\xff" * 16
    assert dev.dead and dev.writes == 2, (dev.dead, dev.writes)
    assert dev.readblocks(0, bytearray(32), 0) == -5
    assert dev.ioctl(_ERASE, 2) == -5


def test_a_cut_before_the_write_leaves_nothing_of_it_and_calls_the_hook():
    dev = _dev()
    seen = []
    dev.fail_at = 0
    dev.torn = False
    dev.on_fail = lambda: seen.append(dev.writes)
    assert dev.writeblocks(0, b"\x00" * 32, 0) == -5
    assert dev.image[0:32] == b"\xff" * 32, dev.image[0:32]
    assert seen == [1], seen  # writes already counts the failing one (the vboard reports it)


def test_a_torn_erase_calls_the_hook_once_after_half_the_block():
    dev = _dev()
    dev.writeblocks(3, b"\x00" * 256, 0)
    seen = []
    dev.fail_at = 1
    dev.on_fail = lambda: seen.append("cut")
    assert dev.ioctl(_ERASE, 3) == -5
    assert dev.image[768:896] == b"\xff" * 128 and dev.image[896:1024] == b"\x00" * 128
    assert seen == ["cut"], seen
    assert dev.ioctl(_ERASE, 3) == -5 and seen == ["cut"], seen


class _Interrupted(RamBlockDevice):
    # A Ctrl-C (KeyboardInterrupt) lands in the middle of the first n stores and loads, after
    # half of the bytes: on a board the flash driver is C and cannot be entered by it.
    def __init__(self, n):
        super().__init__(new_image(256, 4), 256)
        self.left = n

    def _hit(self):
        if self.left:
            self.left -= 1
            raise KeyboardInterrupt

    def _store(self, addr, data):
        self.image[addr : addr + len(data) // 2] = data[: len(data) // 2]
        self._hit()
        super()._store(addr, data)

    def _load(self, addr, buf):
        self._hit()
        super()._load(addr, buf)


def test_a_ctrl_c_in_the_middle_of_a_write_or_read_completes_it_and_is_handed_on():
    dev = _Interrupted(2)
    handed = []
    dev.on_interrupt = lambda: handed.append(dev.writes)
    assert dev.writeblocks(1, b"\x22" * 32, 0) == 0  # littlefs never sees the interrupt
    assert dev.image[256:288] == b"\x22" * 32 and dev.writes == 1
    buf = bytearray(32)
    assert dev.readblocks(1, buf, 0) == 0 and buf == b"\x22" * 32
    assert handed == [1, 1], handed  # each Ctrl-C goes on (the vboard types it again)


def test_littlefs_keeps_working_when_ctrl_c_lands_in_its_io():
    import vfs

    dev = _Interrupted(0)
    vfs.VfsLfs2.mkfs(dev)
    fs = vfs.VfsLfs2(dev)
    dev.left = 3  # the next three I/O calls are interrupted
    with fs.open("a", "wb") as f:
        f.write(b"kept" * 100)
    with fs.open("a", "rb") as f:
        assert f.read() == b"kept" * 100
    assert fs.statvfs("/")[0] == 256 and dev.left == 0
