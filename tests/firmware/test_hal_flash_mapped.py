# nbkit.hal.flash.MappedBlockDevice: the virtual board's flash image mapped into memory (by its
# fork server), here a bytearray outside the device under test standing in for the mapping.
import micropython
import uctypes
from nbkit.hal.flash import MappedBlockDevice

HEAPSIZE = "64K"
_BLOCK = 256


def _mapped(blocks=16):
    image = bytearray(b"\xff" * (_BLOCK * blocks))
    return image, MappedBlockDevice(uctypes.addressof(image), len(image), _BLOCK)


def test_reads_and_writes_land_in_the_mapped_memory():
    image, dev = _mapped()
    assert dev.block_count == 16 and dev.block_size == _BLOCK
    assert dev.writeblocks(2, b"\x5a" * 32, 64) == 0
    assert image[2 * _BLOCK + 64 : 2 * _BLOCK + 96] == b"\x5a" * 32
    assert image[2 * _BLOCK + 96] == 0xFF  # nothing beyond the write
    buf = bytearray(8)
    assert dev.readblocks(2, buf, 60) == 0 and buf == b"\xff" * 4 + b"\x5a" * 4, buf
    assert dev.ioctl(6, 2) == 0 and image[2 * _BLOCK : 3 * _BLOCK] == b"\xff" * _BLOCK


def test_io_with_the_heap_locked_allocates_nothing():
    # littlefs may run in a file's finalizer, while the garbage collector holds the heap
    _, dev = _mapped()
    buf = bytearray(32)
    data = b"\x11" * 32
    micropython.heap_lock()
    try:
        w = dev.writeblocks(1, data, 0)
        r = dev.readblocks(1, buf, 0)
        e = dev.ioctl(6, 1)
    finally:
        micropython.heap_unlock()
    assert (w, r, e) == (0, 0, 0) and buf == data


def test_a_power_cut_tears_the_write_in_the_mapped_memory_too():
    image, dev = _mapped()
    dev.fail_at = 0
    assert dev.writeblocks(3, b"\x00" * 32, 0) == -5  # -EIO
    assert image[3 * _BLOCK : 3 * _BLOCK + 16] == b"\x00" * 16
    assert image[3 * _BLOCK + 16 : 3 * _BLOCK + 32] == b"\xff" * 16
    assert dev.dead and dev.readblocks(3, bytearray(4), 0) == -5


def test_littlefs_formats_mounts_and_keeps_files_on_it():
    import vfs

    image, dev = _mapped(32)
    vfs.VfsLfs2.mkfs(dev)
    fs = vfs.VfsLfs2(dev)
    with fs.open("state", "w") as f:
        f.write("x" * 700)
    again = vfs.VfsLfs2(MappedBlockDevice(uctypes.addressof(image), len(image), _BLOCK))
    with again.open("state", "r") as f:
        assert f.read() == "x" * 700


def test_a_size_that_is_not_whole_blocks_is_refused():
    image = bytearray(_BLOCK * 2 + 1)
    try:
        MappedBlockDevice(uctypes.addressof(image), len(image), _BLOCK)
    except ValueError as exc:
        assert "whole number" in str(exc), exc
    else:
        raise AssertionError("a torn size was accepted")
