# The virtual board's boot sequence (nbkit.hal.unix_board.boot() runs it once per boot):
#   1. reads the runtime board file the host named in NBKIT_VBOARD (board data + "vboard"),
#   2. opens the flash image (a littlefs2 file-backed block device), the control channel (UDP on
#      127.0.0.1), the clock, the modem tty and the meter-bus tty,
#   3. mounts littlefs at "/" (formatting a blank image, as a real board does on first boot)
#      and the board's code at "/.frozen" where no ROM was mapped,
#   4. writes the factory config on first boot (--seed-config) and runs /boot.py if present.
# It is a module of its own so that it leaves the heap before main.py runs, as a board's boot
# code is not in its RAM while the app runs: nothing it leaves behind refers to it (the hooks
# and classes that outlive the boot are unix_board's; a function defined here would keep this
# whole module alive through its globals). `b` is the unix_board module.
import json
import os
import socket
import sys

import vfs  # type: ignore[import-not-found]
from micropython import const

_ENV = const("NBKIT_VBOARD")
_READ_SIZE = const(128)  # littlefs's read unit on the board's flash (bytes)


def boot(b):
    # -> (main.py runs, (name, source) of the --main script or None)
    _lock_if_production(b)
    rt = _load_runtime(b)
    _open_flash(b, rt)
    _open_ctl(b, rt)
    _open_clock(b, rt)
    state = b._state
    if rt.get("modem_port"):
        baud = b.board["modem"]["uart"]["baud"]
        # under the time master, bytes landing at the instant of the boot are counted as sent:
        # opening the UART keeps them (the host drained what came while the board was off)
        uart = b._ModemUart(rt["modem_port"], baud, state.get("sim") is not None)
        uart.serve_also(state["ctl"], b.poll)
        _counted(b, uart, "uart.")
        state["modem"] = uart
    if rt.get("meterbus_port"):
        b._open_meterbus(rt["meterbus_port"])
        _counted(b, state["meterbus"], "bus.")
    if rt.get("heap_watch"):  # nbkit vboard --heap-watch: peak live heap of each wake
        from nbkit.hal import heapwatch

        heapwatch.install(b)
    main_src = None
    if rt.get("main"):
        with open(rt["main"]) as f:
            main_src = (rt["main"], f.read())
    seed = None
    if rt.get("seed_config"):
        with open(rt["seed_config"], "rb") as f:
            seed = f.read()
    _mount(b, rt)
    _rehome()
    if seed is not None:
        _seed(rt["seed_path"], seed)
    # the MCU's work per wake, once the flash is mounted: a Ctrl-C that breaks in during it
    # (mpremote right after a reset) finds the board's files, as on a board, whose start-up
    # before boot.py takes no time a tool could type into
    _wake_work(b, rt)
    if b._exists("boot.py"):
        with open("boot.py") as f:
            b._run_file("boot.py", f.read())
    return rt.get("mode") != "raw", main_src


def _lock_if_production(b):
    # What a production image's frozen _boot.py would do: Ctrl-C off before anything else runs
    # (nbkit.app.lockdown does it again first thing in main.py; a firmware without
    # nbkit.build_profile counts as production).
    try:
        from nbkit.build_profile import PROFILE
    except ImportError:
        PROFILE = "production"
    if PROFILE == "production":
        b.kbd_intr(-1)


def _load_runtime(b):
    path = os.getenv(_ENV)
    if not path:
        raise OSError("%s is not set: start the virtual board with `nbkit vboard`" % _ENV)
    with open(path) as f:
        data = json.loads(f.read())  # (json.load reads a byte per call)
    b.board.clear()
    b.board.update(data)
    return data["vboard"]


def _open_flash(b, rt):
    # The image file as littlefs's extended block device (nbkit.hal.flash). A power cut armed
    # at the N-th modification (1-based, --cut-at-write) asks the host to cut: before the
    # write, or torn after half of it; the host kills this process, so the hook never returns.
    from nbkit.hal import flash

    mapped = os.getenv("NBKIT_FLASH")  # "address:size", mapped by the board's fork server
    if mapped:
        addr, size = mapped.split(":")
        bdev = flash.MappedBlockDevice(int(addr), int(size), rt["block_size"])  # type: flash.BlockDevice
    else:
        bdev = flash.FileBlockDevice(rt["flash"], rt["block_size"])
    if bdev.block_count != rt["block_count"]:
        raise ValueError(
            "flash image has %d blocks, board says %d" % (bdev.block_count, rt["block_count"])
        )
    if rt.get("cut_at_write"):
        bdev.fail_at = rt["cut_at_write"][0] - 1
        bdev.torn = rt["cut_at_write"][1]
        bdev.on_fail = b._power_cut
    bdev.on_interrupt = b._flash_interrupted
    b._state["flash"] = bdev


def _open_ctl(b, rt):
    host, port = rt["control"]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(socket.getaddrinfo("127.0.0.1", 0)[0][-1])
    sock.connect(socket.getaddrinfo(host, port)[0][-1])
    b._state["ctl"] = sock


def _open_clock(b, rt):
    # The scaled-wall clock (triple) or a participant of the rig's time master ("sim"); under
    # the master the MCU's work per wake (board data power.mcu_wake.s) is spent first.
    spec = rt["clock"]
    state = b._state
    if isinstance(spec, dict):
        from nbkit.hal import stdio
        from nbkit.hal.simclock import SimClock

        sim = SimClock(spec["master"], spec["name"])
        sim.side = (state["ctl"], b.poll)
        state["sim"] = state["clock"] = sim
        stdio.SIM = sim  # type: ignore[assignment]
        state["ctl_chan"] = "%s.ctl.b%d." % (spec["chan"], rt["boot"])
        state["chan"] = spec["chan"]
        sim.count(state["ctl_chan"] + "dn<", 0)
        return
    from nbkit.hal.vclock import VClock

    wall_start, epoch, scale = spec
    state["clock"] = VClock(wall_start, epoch, scale, idle=b.poll, power=b.deepsleep)


def late_clock(b):
    # -> the SimClock of a boot a Ctrl-C broke into before its clock was open (None: no time
    # master, or no runtime to find it in): the host announced the board, so it must report.
    try:
        rt = _load_runtime(b)
        if not isinstance(rt.get("clock"), dict):
            return None
        if b._state.get("ctl") is None:
            _open_ctl(b, rt)
        _open_clock(b, rt)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return b._state.get("sim")


def _wake_work(b, rt):
    # Under the time master the MCU's work per wake (board data power.mcu_wake.s) is spent at
    # boot, with the UARTs open (what the modem sends meanwhile waits in their buffers).
    sim = b._state.get("sim")
    if sim is not None:
        sim.sleep_ms(int(rt["clock"].get("wake_ms", 0)))


def _counted(b, uart, what):
    # Under the time master a UART counts its bytes: "<chan>.uart.up>" sent, ".dn<" received.
    state = b._state
    sim = state.get("sim")
    if sim is not None:
        uart.sim = sim
        uart.tx_key = state["chan"] + "." + what + "up>"
        uart.rx_key = state["chan"] + "." + what + "dn<"
        sim.count(uart.rx_key, 0)
        sim.uarts.append(uart)


def _blank(bdev):
    # True when both superblock blocks are erased (a new chip), not damaged.
    buf = bytearray(256)
    for block in (0, 1):
        for off in range(0, bdev.block_size, 256):
            bdev.readblocks(block, buf, off)
            if buf != b"\xff" * 256:
                return False
    return True


def _mount(b, rt):
    # littlefs reads the flash 128 bytes at a time (a 512-byte cache): the format is the same
    # whatever the read size, and each read is a call into the Python block device here (C on
    # a board), so 32-byte reads made the file system most of a wake's CPU; a larger cache
    # would take more of the heap with every open file
    bdev = b._state["flash"]
    try:
        fs = vfs.VfsLfs2(bdev, readsize=_READ_SIZE)  # type: ignore[abstract]
    except OSError:
        if _blank(bdev):
            print("vboard: blank flash, formatting littlefs2")
        else:
            print("vboard: CORRUPT flash (littlefs does not mount), formatting: data lost")
        vfs.VfsLfs2.mkfs(bdev)
        fs = vfs.VfsLfs2(bdev, readsize=_READ_SIZE)  # type: ignore[abstract]
    # the app directory is the board's ROM: mapped and mounted at /.frozen by the boot code
    # (host_tools.vboard.rom), else mounted from the host's file system here
    rom = os.getenv("NBKIT_ROM")
    app = None
    if rt.get("app") and not rom:
        app = vfs.VfsPosix(rt["app"])  # type: ignore[attr-defined]
    vfs.umount("/")
    vfs.mount(fs, "/")
    if app is not None:
        vfs.mount(app, b.FROZEN, readonly=True)
    if rt.get("app"):
        sys.modules["os"] = sys.modules["uos"] = b._HiddenFrozen()  # type: ignore[assignment]
    os.chdir("/")
    sys.path[:] = ["", ".frozen", b.FROZEN, "/lib"]
    # MicroPython looks along sys.path for a file that extends or replaces a built-in module
    # (json, struct...) at every import of one, as it keeps no built-in in sys.modules: on the
    # virtual board, littlefs lookups through the Python block device, a sixth of a sample
    # wake's CPU (a board does them in C, in no time the device could observe). The built-ins
    # no file on the flash shadows go into sys.modules now, found at once; a shadowing file still
    # wins, as on a board (one copied on in this boot counts from the next, as any module
    # imported already). An empty sys.path makes import take the built-in without looking.
    # (Inline, names the firmware has anyway: every name interned stays for the whole wake.)
    shadow = set()
    for path in ("/", "/lib"):
        try:
            for entry in os.ilistdir(path):
                name = entry[0]
                shadow.add(name.rsplit(".", 1)[0] if name.endswith((".py", ".mpy")) else name)
        except OSError:
            pass  # no such folder
    saved = sys.path[:]
    sys.path[:] = []
    for name in ("array", "binascii", "collections", "errno", "hashlib", "io", "json", "random",
                 "re", "select", "socket", "struct", "time"):  # fmt: skip
        if name not in shadow:
            try:
                sys.modules[name] = __import__(name)
            except ImportError:
                pass  # not in this port
    sys.path[:] = saved


def _rehome():
    # Modules imported before the mount came from the host path, now gone: forget them so nbkit
    # loads from the flash ('' first, as a deploy expects) or /.frozen; keep the board's modules
    # (this one goes: nothing imports it again).
    keep = {}  # type: dict
    for name in (
        "nbkit.hal.vclock",
        "nbkit.hal.unix_board",
        "nbkit.hal.stdio",
        "nbkit.hal.simclock",
    ):
        if name in sys.modules:
            keep[name] = sys.modules[name]
    for name in list(sys.modules):
        if name == "nbkit" or name.startswith("nbkit."):
            del sys.modules[name]
    sys.modules.update(keep)
    try:
        from nbkit import hal
    except ImportError:
        return
    for name, mod in keep.items():
        setattr(hal, name.rsplit(".", 1)[1], mod)


def _seed(path, data):
    # Factory provisioning: write the config once, atomically, when the flash has none.
    try:
        os.stat(path)
        return
    except OSError:
        pass
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)
    print("vboard: factory config written to", path)
