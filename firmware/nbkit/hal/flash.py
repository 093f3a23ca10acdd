# Flash for the durable store. On a board the application uses the internal flash that
# MicroPython has already mounted (a littlefs2 root); on the unix port (virtual board, tests)
# a littlefs2 image lives in a file or in RAM behind the block-device protocol of vfs.VfsLfs2,
# with the extended interface: readblocks/writeblocks take a byte offset, ioctl(6) erases.
#
# Power cuts: set fail_at = k and the k-th flash-changing operation (program or erase, counted
# from 0) is torn: only its first half reaches the medium (torn = False: none of it; on_fail()
# is called at that moment, e.g. the virtual board's real power cut), and from then on the
# device is dead:
# every access fails with -EIO, which littlefs reports to the caller as OSError(EIO), as a board
# does when its supply drops. The medium keeps the torn state; mount it through a fresh device
# to "reboot". (Errors are returned, not raised: an exception must not unwind littlefs's C code.)

try:
    import vfs
except ImportError:  # older MicroPython: the vfs functions live in os
    import os as vfs  # type: ignore[no-redef]

try:
    import micropython
    from micropython import const
except ImportError:  # CPython on the host
    micropython = None  # type: ignore[assignment]

    def const(x):  # type: ignore[misc]
        return x


_IOCTL_INIT = const(1)
_IOCTL_DEINIT = const(2)
_IOCTL_SYNC = const(3)
_IOCTL_COUNT = const(4)
_IOCTL_SIZE = const(5)
_IOCTL_ERASE = const(6)
_EIO = const(-5)  # -errno.EIO
# littlefs geometry used with these devices (also what host_tools/device/flashimg.py writes)
READ_SIZE = const(32)
PROG_SIZE = const(32)
LOOKAHEAD = const(32)
_ERASE_CHUNK = const(256)  # bytes of 0xff an erase stores at a time


class BlockDevice:
    # Storage-independent part: geometry, write counting and the fault hook.

    def __init__(self, block_size, block_count):
        self.block_size = block_size
        self.block_count = block_count
        self.writes = 0  # programs + erases done so far (the "write index")
        self.fail_at = None  # index of the write that the power cut tears
        self.torn = True  # the failing write stores its first half (False: nothing of it)
        self.on_fail = None  # called at the cut (the virtual board: ask the host to cut power)
        self.on_interrupt = None  # a Ctrl-C caught during I/O (the virtual board: type it again)
        self.dead = False
        # an erase stores 0xff a chunk at a time from this (preallocated: erase may run with
        # the heap locked); a block-sized pattern would keep a block of the device's heap
        chunk = _ERASE_CHUNK
        while chunk > 1 and (block_size // 2) % chunk:
            chunk //= 2
        self._ff = b"\xff" * chunk

    def _changing(self, addr, data):
        # Every flash-changing operation comes here (data: the bytes to program, or None for
        # the erase of the block at addr): count it, cut the power when asked.
        # -> 0, or -EIO once the power is gone (littlefs turns that into OSError(EIO)).
        if self.dead:
            return _EIO
        index = self.writes
        self.writes += 1
        if index == self.fail_at:
            if self.torn:  # the first half reaches the medium
                if data is None:
                    self._erase(addr, self.block_size // 2)
                else:
                    self._whole(True, addr, data[: len(data) // 2])
            self.dead = True
            if self.on_fail is not None:
                self.on_fail()  # may never return (the process is killed)
            return _EIO
        if data is None:
            self._erase(addr, self.block_size)
        else:
            self._whole(True, addr, data)
        return 0

    def _erase(self, addr, size):
        # (a while loop: `for` over a range of a variable step would allocate its iterator)
        ff = self._ff
        step = len(ff)
        off = 0
        while off < size:
            self._whole(True, addr + off, ff)
            off += step

    def _whole(self, store, addr, buf):
        # A flash driver is C that a Ctrl-C cannot enter; this one is Python, and a
        # KeyboardInterrupt raised inside it would unwind littlefs half way through an operation
        # (its state in RAM broken: the next writes fail, statvfs says CORRUPT). So the I/O is
        # done again whole (it is idempotent: same bytes, same place) and the Ctrl-C handed on.
        # Nothing here allocates: a file's finalizer writes with the heap locked.
        while True:
            try:
                if store:
                    self._store(addr, buf)
                else:
                    self._load(addr, buf)
                return
            except KeyboardInterrupt:
                self._hand_on()

    def _hand_on(self):
        if self.on_interrupt is not None:
            try:
                self.on_interrupt()
            except MemoryError:  # the heap is locked (a finalizer's write): this Ctrl-C is lost
                pass

    def readblocks(self, block, buf, offset=0):
        if self.dead:
            return _EIO
        self._whole(False, block * self.block_size + offset, buf)
        return 0

    def writeblocks(self, block, buf, offset=None):
        if offset is None:  # simple interface: erase the blocks, then program them
            for i in range(len(buf) // self.block_size):
                if self.ioctl(_IOCTL_ERASE, block + i):
                    return _EIO
            offset = 0
        return self._changing(block * self.block_size + offset, buf)

    def ioctl(self, op, arg):
        if op == _IOCTL_COUNT:
            return self.block_count
        if op == _IOCTL_SIZE:
            return self.block_size
        if op == _IOCTL_ERASE:
            return self._changing(arg * self.block_size, None)
        if op == _IOCTL_SYNC:
            if self.dead:
                return _EIO
            self._sync()
        return 0  # init, deinit

    def _sync(self):
        pass

    def _load(self, addr, buf):
        raise NotImplementedError  # each storage (RAM, file) defines how it reads

    def _store(self, addr, data):
        raise NotImplementedError


class RamBlockDevice(BlockDevice):
    # An image held in a bytearray: fast, for tests; the bytearray outlives a "power cut".

    def __init__(self, image, block_size):
        super().__init__(block_size, len(image) // block_size)
        self.image = image

    def _load(self, addr, buf):
        buf[:] = self.image[addr : addr + len(buf)]

    def _store(self, addr, data):
        self.image[addr : addr + len(data)] = data


class FileBlockDevice(BlockDevice):
    # An image file (the virtual board's flash); writes go straight to the file, so killing
    # the process leaves exactly what a power cut would.

    def __init__(self, path, block_size):
        self.file = open(path, "r+b")
        size = self.file.seek(0, 2)
        if size % block_size or not size:
            self.file.close()
            raise ValueError(
                "%s: %d bytes is not a whole number of %d-byte blocks" % (path, size, block_size)
            )
        super().__init__(block_size, size // block_size)

    def _load(self, addr, buf):
        self.file.seek(addr)
        self.file.readinto(buf)

    def _store(self, addr, data):
        self.file.seek(addr)
        self.file.write(data)

    def _sync(self):
        # nothing to do: each write went to the file at once (MicroPython's files are not
        # buffered); a flush would be an fsync, which only a host crash needs
        pass

    def close(self):
        self.file.close()


if micropython is not None:  # (viper: MicroPython only; the host reads images with CPython)
    from uctypes import addressof

    class MappedBlockDevice(BlockDevice):
        # The virtual board's image file mapped into memory outside the heap: its fork server
        # maps the file (shared: a write is in the file at once, so killing the process leaves
        # what a power cut would, as with FileBlockDevice) and names the mapping in the boot's
        # NBKIT_FLASH ("address:size"). littlefs then reads and writes memory, not the file
        # through a seek and a read system call per access. The copies are viper loops: they
        # allocate nothing (littlefs may run in a file's finalizer, with the heap locked) and no
        # Ctrl-C lands inside one. (Its names are the module's own: each name a module interns
        # stays for the whole wake, and the heap's name pool grows in steps.)

        def __init__(self, addr, size, block_size):
            if size % block_size or not size:
                raise ValueError(
                    "mapped flash: %d bytes is not a whole number of %d-byte blocks"
                    % (size, block_size)
                )
            super().__init__(block_size, size // block_size)
            self.addr = addr

        def _load(self, addr, buf):
            self._move(addressof(buf), self.addr + addr, len(buf))

        def _store(self, addr, data):
            self._move(self.addr + addr, addressof(data), len(data))

        @micropython.viper
        def _move(self, dst: int, src: int, n: int):
            to = ptr8(dst)  # type: ignore[name-defined]  # noqa: F821
            at = ptr8(src)  # type: ignore[name-defined]  # noqa: F821
            i = 0
            while i < n:
                to[i] = at[i]
                i += 1


def new_image(block_size, block_count):
    # Erased flash: every byte 0xff (filled a block at a time: one allocation of the image).
    image = bytearray(block_size * block_count)
    erased = b"\xff" * block_size
    for i in range(block_count):
        image[i * block_size : (i + 1) * block_size] = erased
    return image


def format(bdev):
    vfs.VfsLfs2.mkfs(bdev, readsize=READ_SIZE, progsize=PROG_SIZE, lookahead=LOOKAHEAD)


def mount(bdev, path, create=True):
    # Mount the littlefs2 on bdev at path; format first when there is none and create is set.
    try:
        fs = vfs.VfsLfs2(bdev, readsize=READ_SIZE, progsize=PROG_SIZE, lookahead=LOOKAHEAD)  # type: ignore[abstract]
    except OSError:
        if not create:
            raise
        format(bdev)
        fs = vfs.VfsLfs2(bdev, readsize=READ_SIZE, progsize=PROG_SIZE, lookahead=LOOKAHEAD)  # type: ignore[abstract]
    vfs.mount(fs, path)
    return fs


def umount(path):
    try:
        vfs.umount(path)
    except OSError:
        pass  # not mounted
