# The virtual board: hardware of the MicroPython unix port as `nbkit vboard` wires it.
# The host process writes a runtime board file (board data + "vboard" section) and names it in
# the environment variable NBKIT_VBOARD; boot() runs the boot sequence (nbkit.hal.unix_boot:
# the runtime file, the flash image, the control channel, the clock, the ttys, the mounts; the
# app directory is the board's frozen code at "/.frozen", kept out of every listing of "/" as a
# board's frozen modules are: _HiddenFrozen), lets it leave the heap, then runs the main script
# unless the REPL was in raw mode (a soft reset from mpremote).
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
import gc
import os
import select
import sys
import termios  # type: ignore[import-not-found]
import time

from micropython import const

from nbkit.hal.tty import TtyTransport

_ISIG = const(1)  # termios c_lflag bit (Linux)
_MAX_DGRAM = const(512)
FROZEN = "/.frozen"  # the board's code (its ROM), importable, never listed
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
    # The modem UART transport; without --modem-port a UART with no module on it (_NoModem).
    if _state["modem"] is None:
        _state["modem"] = _NoModem()
    return _state["modem"]


class _NoModem:
    # The modem UART of a vboard started without --modem-port, as a board with no module fitted:
    # what is written goes nowhere and nothing ever answers, so the driver times out and says
    # the modem is not answering. Its waits pass in the board's time.
    def write(self, data):
        return len(data)

    def read(self, n):
        return b""

    def wait(self, timeout_ms):
        clock().sleep_ms(max(0, int(timeout_ms)))
        return False

    def close(self):
        pass


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


def _power_cut():
    # the flash's on_fail hook (a power cut armed at a write, nbkit.hal.unix_boot)
    _power("powerfail %d" % _state["flash"].writes)


def _flash_interrupted():
    # the flash's on_interrupt hook: a Ctrl-C came while it was busy
    _ctl_send("ctrl-c")


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
        return (e for e in os.ilistdir(path) if e[0] != FROZEN[1:])

    def listdir(self, path=""):
        return [e[0] for e in self.ilistdir(path)]


def boot():
    # The boot sequence (nbkit.hal.unix_boot) runs, then leaves the heap, then main.py runs
    # (not after a soft reset from the raw REPL: mpremote takes over there).
    from nbkit.hal import unix_boot

    try:
        run_main, main_src = unix_boot.boot(sys.modules[__name__])
        del unix_boot  # its module left sys.modules in the boot (unix_boot._rehome)
        gc.collect()
        if run_main:
            _run_main(main_src)
    finally:
        _at_prompt()


def _at_prompt():
    # The REPL takes over (main.py ended, a Ctrl-C broke in, or a raw REPL boot). Under a time
    # master the board now waits for a person at its console (SimClock.park), also when the
    # Ctrl-C came before it had its clock (time waits for an announced board until it reports).
    # Ctrl-C is held off meanwhile: a second one must not cut off an answer the master awaits.
    # On the wall clock there is nothing to do, and the traceback must not wait for it (the
    # host gives a Ctrl-C that met a deep sleep 0.3 s to show one).
    if _state.get("clock") is not None and _state.get("sim") is None:
        return
    while True:
        try:
            try:
                was = termios.tcgetattr(0)[3] & _ISIG
            except OSError:
                was = None  # no terminal on stdin
            if was is not None:
                kbd_intr(-1)
            try:
                _park()
            finally:
                if was:
                    kbd_intr(3)
            return
        except KeyboardInterrupt:
            pass


def _park():
    sim = _state.get("sim")
    if sim is None:
        from nbkit.hal import unix_boot

        sim = unix_boot.late_clock(sys.modules[__name__])
    if sim is not None:
        sim.park()


def _run_file(name, source):
    g = {"__name__": "__main__", "__file__": name}
    exec(compile(source, name, "exec"), g)


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _run_main(main_src):
    if main_src is None:
        for name in ("main.py", FROZEN + "/main.py"):
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
