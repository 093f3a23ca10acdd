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
