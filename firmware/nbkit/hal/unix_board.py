# The virtual board: hardware of the MicroPython unix port as `nbkit vboard` wires it.
# The host process writes a runtime board file (board data + "vboard" section) and names it in
# the environment variable NBKIT_VBOARD; boot() then
#   1. opens the flash image (a littlefs2 file-backed block device) and the modem tty,
#   2. registers with the host's control channel (UDP on 127.0.0.1) for pin events,
#   3. mounts littlefs at "/" (formatting a blank image, as a real board does on first boot),
#      mounts the app directory read-only at "/.frozen" (the code "frozen" into this board),
#      kept out of every listing of "/" as a board's frozen modules are (_HiddenFrozen),
#   4. writes the factory config on first boot (--seed-config), runs /boot.py if present,
#   5. runs the main script unless the REPL was in raw mode (a soft reset from mpremote).
# Control channel datagrams (ASCII, one per datagram), host -> board:
#   pin <name> <value> <falling> <rising>     a pin's level and its cumulative edge counters
# board -> host:
#   hello                       register; the host answers with one `pin` line per pin (one
#                               datagram, lines separated by "\n")
#   deepsleep <ms> [<pin>=<level> ...]   power down for ms virtual ms or until a pin has its
#                               level (0/1; > 1: an ADC pin at or above that value, a comparator);
#                               a pin already at its level wakes the board at once
#   reset hard | reset soft     hard reset (power cycle) or soft reset (soft reboot banner)
#   wdt <ms>                    the watchdog is fed: the host resets the board (reset cause
#                               WDT_RESET) unless the next feed comes within ms of virtual
#                               time; wdt 0 stops it (WDT.deinit, a REPL a service session opened)
#   powerfail <n>               flash write n was armed to fail (--cut-at-write, `cut` command)
#   ctrl-c                      a Ctrl-C came while the flash was busy: type it again (a board's
#                               flash driver cannot be interrupted; nbkit.hal.flash)
import json
import os
import select
import socket
import sys
import termios  # type: ignore[import-not-found]
import time

import vfs  # type: ignore[import-not-found]
from micropython import const

from nbkit.hal.flash import FileBlockDevice
from nbkit.hal.tty import TtyTransport
from nbkit.hal.vclock import VClock

_ENV = const("NBKIT_VBOARD")
_ISIG = const(1)  # termios c_lflag bit (Linux)
_MAX_DGRAM = const(512)
_FROZEN = const("/.frozen")
_HELLO_WAIT_MS = const(2000)

PWRON_RESET = const(1)
HARD_RESET = const(2)
WDT_RESET = const(3)
DEEPSLEEP_RESET = const(4)
SOFT_RESET = const(5)
_WATCHDOG_MS = const(14400000)  # virtual ms: 4 h, a few wall seconds at the demo's 2400x
_CAUSES = {
    "power_on": PWRON_RESET,
    "hard": HARD_RESET,
    "watchdog": WDT_RESET,
    "deepsleep": DEEPSLEEP_RESET,
    "soft": SOFT_RESET,
}

# the board data (boards/<name>.json) plus a "vboard" runtime section
board = {}  # type: dict
_state = {"ctl": None, "clock": None, "flash": None, "modem": None}  # type: dict
_pins = {}  # type: dict


class _ModemUart(TtyTransport):
    # The modem UART: nbkit.hal.tty on the modem tty at the board's baud; pin events that arrive
    # during a UART wait are served (as IRQs would be). close() leaves it open: the tty is
    # opened once per boot, like the peripheral.

    def close(self):
        pass


class VPin:
    # A machine.Pin-like input whose level the host drives (control channel `pin` datagrams).
    IN = const(1)
    IRQ_RISING = const(1)
    IRQ_FALLING = const(2)

    def __init__(self, name):
        self.name = name
        self._value = 1
        self.falling = 0  # edge counters kept by the host: they count while the board sleeps,
        self.rising = 0  # like a hardware pulse counter (ESP32 PCNT/ULP)
        self._handler = None
        self._trigger = 0

    def value(self):
        poll(0)
        return 1 if self._value else 0

    def read_u16(self):
        poll(0)
        return self._value & 0xFFFF

    def irq(self, handler=None, trigger=3):
        self._handler = handler
        self._trigger = trigger

    def _update(self, value, falling, rising):
        new_f = falling - self.falling
        new_r = rising - self.rising
        self._value, self.falling, self.rising = value, falling, rising
        h = self._handler
        if h is not None and (new_f > 0 and self._trigger & 2 or new_r > 0 and self._trigger & 1):
            h(self)


def _ctl_send(text):
    sock = _state["ctl"]
    if sock is not None:
        sock.send(text.encode())
        _tally(">", 1)


def _tally(way, n):
    # Count a control datagram for the time master (sim clock only): "<chan>.ctl.b<boot>.up>"
    sim = _state.get("sim")
    if sim is not None:
        sim.count(_state["ctl_chan"] + ("up>" if way == ">" else "dn<"), n)


def _dispatch(data):
    _tally("<", 1)
    for line in data.decode().split("\n"):
        if line == "cut":
            _power("cut-ready")  # the host cuts the power: report the counters first
        parts = line.split()
        if len(parts) == 5 and parts[0] == "pin" and parts[1] in _pins:
            _pins[parts[1]]._update(int(parts[2]), int(parts[3]), int(parts[4]))


def poll(timeout_ms=0):
    # Serve pin events: wait up to timeout_ms wall ms for the first, then drain what is queued.
    sock = _state["ctl"]
    if sock is None:
        if timeout_ms > 0:
            time.sleep_ms(int(timeout_ms))  # type: ignore[attr-defined]
        return
    p = select.poll()
    p.register(sock, select.POLLIN)
    wait = int(timeout_ms)
    sim = _state.get("sim")
    if sim is not None:
        deadline = sim.ticks_ms() + wait
        while sim.block(p, deadline):
            _dispatch(sock.recv(_MAX_DGRAM))
            deadline = sim.ticks_ms()  # then only what is already there
        return
    while p.poll(wait):
        _dispatch(sock.recv(_MAX_DGRAM))
        wait = 0


def pin(name):
    # The input pin the board data calls `name` (pulse_a, pulse_b, tamper, button, smoke_adc).
    if name not in board.get("pins", {}):
        raise ValueError("no pin %s on this board" % name)
    if name not in _pins:
        _pins[name] = VPin(name)
        _ctl_send("hello")  # the host answers with every pin's state in one datagram
        poll(_HELLO_WAIT_MS)
    return _pins[name]


def clock():
    return _state["clock"]


def flash():
    return _state["flash"]


def modem():
    # The modem UART transport, or None when the vboard was started without --modem-port.
    return _state["modem"]


def meterbus():
    # The meter-bus UART (CJ/T 188, DL/T 645) on a tty: the `nbkit meterbus` pty or a USB-UART
    # (--meterbus-port); None without one. Opened at boot, before "/" becomes the flash.
    return _state.get("meterbus")


def _open_meterbus(path):
    # A pty has no line speed or parity: the board data's 2400 8E1 matters on a real line only,
    # so the tty is opened raw at its default speed. Pin events are served during its waits.
    uart = _ModemUart(path, None, _state.get("sim") is not None)
    uart.serve_also(_state["ctl"], poll)
    _state["meterbus"] = uart


def reset_cause():
    return _CAUSES.get(board.get("vboard", {}).get("reset_cause"), PWRON_RESET)


def wake_reason():
    # The pin name that ended the last deep sleep, "timer", or None.
    return board.get("vboard", {}).get("wake_reason")


def _power(request):
    # Ask the host to cut the power; it kills this process. Repeat until it does (under the
    # time master once: the request is counted, the host acts on it before time moves).
    sim = _state.get("sim")
    if sim is not None:
        # the host kills this process as soon as it reads the request: report every counter
        # first (the request's own included), then ask, then wait
        _tally(">", 1)
        sim.flush()
        # from now on the UARTs are the host's to drain and count: a byte this process took
        # and counted after the flush would die with it, uncounted (in flight for ever)
        uarts, sim.uarts = sim.uarts, []
        try:
            _state["ctl"].send(request.encode())
            while True:
                sim.block(None, None)
        finally:  # a Ctrl-C that kept the board awake (at its REPL): its UARTs are its own again
            sim.uarts = uarts
    while True:
        _ctl_send(request)
        time.sleep_ms(1000)  # type: ignore[attr-defined]


def deepsleep(ms, wake_pins=None):
    # machine.deepsleep: never returns; the board boots again after ms virtual ms (or when a wake
    # pin reaches its level), with reset_cause() == DEEPSLEEP_RESET. RAM is lost, the RTC runs on.
    pins = " ".join("%s=%d" % (n, lv) for n, lv in (wake_pins or {}).items())
    _power(("deepsleep %d %s" % (int(ms), pins)).strip())


def kbd_intr(char):
    # micropython.kbd_intr for the console: -1 makes Ctrl-C a plain byte (a line protocol on the
    # console), 3 restores KeyboardInterrupt. On the unix port micropython.kbd_intr(-1) would let
    # Ctrl-C kill the process instead, so the console's line discipline is switched here.
    attrs = termios.tcgetattr(0)
    attrs[3] = attrs[3] | _ISIG if char == 3 else attrs[3] & ~_ISIG
    termios.tcsetattr(0, termios.TCSANOW, attrs)


class WDT:
    # machine.WDT(timeout=ms) of the virtual board. feed() tells the host (a `wdt` datagram, at
    # most one per quarter timeout of virtual time); the host resets the board when the
    # timeout passes in virtual time without one.
    def __init__(self, id=0, timeout=5000):
        self.timeout = max(1, int(timeout))
        self._fed = None
        self.feed()

    def feed(self):
        clock = _state["clock"]
        now = clock.time() * 1000 if clock is not None else 0
        if self._fed is not None and 0 <= now - self._fed < self.timeout // 4:
            return
        self._fed = now
        _ctl_send("wdt %d" % self.timeout)

    def deinit(self):
        _ctl_send("wdt 0")


def watchdog(timeout_ms=None):
    return WDT(timeout=timeout_ms or _WATCHDOG_MS)


def reset():
    _power("reset hard")


def soft_reset():
    _power("reset soft")


def _load_runtime():
    path = os.getenv(_ENV)
    if not path:
        raise OSError("%s is not set: start the virtual board with `nbkit vboard`" % _ENV)
    with open(path) as f:
        data = json.load(f)
    board.clear()
    board.update(data)
    return data["vboard"]


def _power_cut():
    _power("powerfail %d" % _state["flash"].writes)


def _open_flash(rt):
    # The image file as littlefs's extended block device (nbkit.hal.flash). A power cut armed
    # at the N-th modification (1-based, --cut-at-write) asks the host to cut: before the
    # write, or torn after half of it; the host kills this process, so the hook never returns.
    bdev = FileBlockDevice(rt["flash"], rt["block_size"])
    if bdev.block_count != rt["block_count"]:
        raise ValueError(
            "flash image has %d blocks, board says %d" % (bdev.block_count, rt["block_count"])
        )
    if rt.get("cut_at_write"):
        bdev.fail_at = rt["cut_at_write"][0] - 1
        bdev.torn = rt["cut_at_write"][1]
        bdev.on_fail = _power_cut
    bdev.on_interrupt = lambda: _ctl_send("ctrl-c")
    _state["flash"] = bdev


def _open_ctl(rt):
    host, port = rt["control"]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(socket.getaddrinfo("127.0.0.1", 0)[0][-1])
    sock.connect(socket.getaddrinfo(host, port)[0][-1])
    _state["ctl"] = sock


def _blank(bdev):
    # True when both superblock blocks are erased (a new chip), not damaged.
    buf = bytearray(256)
    for block in (0, 1):
        for off in range(0, bdev.block_size, 256):
            bdev.readblocks(block, buf, off)
            if buf != b"\xff" * 256:
                return False
    return True


class _HiddenFrozen:
    # `os` as scripts see it on the virtual board: the built-in module, except that listings of
    # "/" leave out the /.frozen mount (a board's frozen modules are importable, never listed;
    # `mpremote rm -r :/` then empties the flash). A Python VFS at "/" could hide it too, but
    # costs a Python call and exception garbage on every import: too much for a device heap.
    def __getattr__(self, name):
        return getattr(os, name)

    def _root(self, path):
        return path in ("/", "//") or (path in ("", ".") and os.getcwd() == "/")

    def ilistdir(self, path=""):
        if not self._root(path):
            return os.ilistdir(path)
        return (e for e in os.ilistdir(path) if e[0] != _FROZEN[1:])

    def listdir(self, path=""):
        return [e[0] for e in self.ilistdir(path)]


def _mount(rt):
    bdev = _state["flash"]
    try:
        fs = vfs.VfsLfs2(bdev)  # type: ignore[abstract]
    except OSError:
        if _blank(bdev):
            print("vboard: blank flash, formatting littlefs2")
        else:
            print("vboard: CORRUPT flash (littlefs does not mount), formatting: data lost")
        vfs.VfsLfs2.mkfs(bdev)
        fs = vfs.VfsLfs2(bdev)  # type: ignore[abstract]
    # the app directory is the board's ROM: mapped and mounted at /.frozen by the boot code
    # (host_tools.vboard.rom), else mounted from the host's file system here
    rom = os.getenv("NBKIT_ROM")
    app = None
    if rt.get("app") and not rom:
        app = vfs.VfsPosix(rt["app"])  # type: ignore[attr-defined]
    vfs.umount("/")
    vfs.mount(fs, "/")
    if app is not None:
        vfs.mount(app, _FROZEN, readonly=True)
    if rt.get("app"):
        sys.modules["os"] = sys.modules["uos"] = _HiddenFrozen()  # type: ignore[assignment]
    os.chdir("/")
    sys.path[:] = ["", ".frozen", _FROZEN, "/lib"]


def _rehome():
    # Modules imported before the mount came from the host path, now gone: forget them so nbkit
    # loads from the flash ('' first, as a deploy expects) or /.frozen; keep this booted module.
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


def _run_file(name, source):
    g = {"__name__": "__main__", "__file__": name}
    exec(compile(source, name, "exec"), g)


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _lock_if_production():
    # What a production image's frozen _boot.py would do: Ctrl-C off before anything else runs
    # (nbkit.app.lockdown does it again first thing in main.py; a firmware without
    # nbkit.build_profile counts as production).
    try:
        from nbkit.build_profile import PROFILE
    except ImportError:
        PROFILE = "production"
    if PROFILE == "production":
        kbd_intr(-1)


def boot():
    _lock_if_production()
    rt = _load_runtime()
    _open_flash(rt)
    _open_ctl(rt)
    _open_clock(rt)
    if rt.get("modem_port"):
        baud = board["modem"]["uart"]["baud"]
        # under the time master, bytes landing at the instant of the boot are counted as sent:
        # opening the UART keeps them (the host drained what came while the board was off)
        uart = _ModemUart(rt["modem_port"], baud, _state.get("sim") is not None)
        uart.serve_also(_state["ctl"], poll)
        _counted(uart, "uart.")
        _state["modem"] = uart
    if rt.get("meterbus_port"):
        _open_meterbus(rt["meterbus_port"])
        _counted(_state["meterbus"], "bus.")
    if rt.get("heap_watch"):  # nbkit vboard --heap-watch: peak live heap of each wake
        from nbkit.hal import heapwatch

        heapwatch.install(sys.modules[__name__])
    _wake_work(rt)
    main_src = None
    if rt.get("main"):
        with open(rt["main"]) as f:
            main_src = (rt["main"], f.read())
    seed = None
    if rt.get("seed_config"):
        with open(rt["seed_config"], "rb") as f:
            seed = f.read()
    _mount(rt)
    _rehome()
    if seed is not None:
        _seed(rt["seed_path"], seed)
    if _exists("boot.py"):
        with open("boot.py") as f:
            _run_file("boot.py", f.read())
    if rt.get("mode") == "raw":
        return
    _run_main(main_src)


def _open_clock(rt):
    # The scaled-wall clock (triple) or a participant of the rig's time master ("sim"); under
    # the master the MCU's work per wake (board data power.mcu_wake.s) is spent first.
    spec = rt["clock"]
    if isinstance(spec, dict):
        from nbkit.hal import stdio
        from nbkit.hal.simclock import SimClock

        sim = SimClock(spec["master"], spec["name"])
        sim.side = (_state["ctl"], poll)
        _state["sim"] = _state["clock"] = sim
        stdio.SIM = sim  # type: ignore[assignment]
        _state["ctl_chan"] = "%s.ctl.b%d." % (spec["chan"], rt["boot"])
        _state["chan"] = spec["chan"]
        sim.count(_state["ctl_chan"] + "dn<", 0)
        return
    wall_start, epoch, scale = spec
    _state["clock"] = VClock(wall_start, epoch, scale, idle=poll, power=deepsleep)


def _wake_work(rt):
    # Under the time master the MCU's work per wake (board data power.mcu_wake.s) is spent at
    # boot, with the UARTs open (what the modem sends meanwhile waits in their buffers).
    sim = _state.get("sim")
    if sim is not None:
        sim.sleep_ms(int(rt["clock"].get("wake_ms", 0)))


def _counted(uart, what):
    # Under the time master a UART counts its bytes: "<chan>.uart.up>" sent, ".dn<" received.
    sim = _state.get("sim")
    if sim is not None:
        uart.sim = sim
        uart.tx_key = _state["chan"] + "." + what + "up>"
        uart.rx_key = _state["chan"] + "." + what + "dn<"
        sim.count(uart.rx_key, 0)
        sim.uarts.append(uart)


def _run_main(main_src):
    if main_src is None:
        for name in ("main.py", _FROZEN + "/main.py"):
            if _exists(name):
                with open(name) as f:
                    main_src = (name, f.read())
                break
    if main_src is None:
        return
    try:
        _run_file(main_src[0], main_src[1])
    except SystemExit:
        soft_reset()  # sys.exit() in main.py soft-resets a board
