# The virtual board's flash image mapped into memory: the board's fork server maps the image
# file (shared, outside MicroPython's heap) before the unix port starts and names the mapping
# in NBKIT_FLASH ("address:size"). A write lands in the file at once, so killing the process
# leaves exactly what a power cut would, as with the file device (nbkit.hal.flash), without a
# seek and a read system call for each of littlefs's reads.
# The copies are viper loops: no allocation (littlefs may run in a finalizer, heap locked) and
# no Ctrl-C in the middle of one.
import micropython

from nbkit.hal.flash import BlockDevice


@micropython.viper
def _copy_from(dst: ptr8, src: int, n: int):  # type: ignore[name-defined]  # noqa: F821
    s = ptr8(src)  # type: ignore[name-defined]  # noqa: F821
    i = 0
    while i < n:
        dst[i] = s[i]
        i += 1


@micropython.viper
def _copy_to(dst: int, src: ptr8, n: int):  # type: ignore[name-defined]  # noqa: F821
    d = ptr8(dst)  # type: ignore[name-defined]  # noqa: F821
    i = 0
    while i < n:
        d[i] = src[i]
        i += 1


class MappedBlockDevice(BlockDevice):
    # spec: NBKIT_FLASH's "address:size"; the size a whole number of blocks.

    def __init__(self, spec, block_size):
        addr, size = (int(x) for x in spec.split(":"))
        if size % block_size or not size:
            raise ValueError(
                "mapped flash: %d bytes is not a whole number of %d-byte blocks"
                % (size, block_size)
            )
        super().__init__(block_size, size // block_size)
        self.addr = addr

    def _load(self, addr, buf):
        _copy_from(buf, self.addr + addr, len(buf))

    def _store(self, addr, data):
        _copy_to(self.addr + addr, data, len(data))
