# The virtual board's clock under a time master (host_tools/simclock/protocol.py): every tick,
# timestamp and sleep is the master's virtual time; nothing the firmware sees depends on how
# fast the host runs. The board is one participant (NAME, e.g. "m0.b3": meter m0, boot 3).
#   ticks_ms()      virtual ms since the epoch (plain ints, no wrap: ticks_diff is a - b)
#   time()          virtual seconds (the RTC)
#   block(poller, deadline_ms)  the one way the firmware waits: tells the master "idle until
#                   deadline_ms or input", then sleeps in poll() until an input of poller is
#                   ready (-> its events) or time reaches the deadline (-> [])
# Counters: count(key, n) keeps cumulative totals ("m0.uart.up>" bytes sent...), sent with
# every report so the master knows when nothing is in flight.
import select
import socket

from micropython import const

from nbkit.hal.clock import Clock

_HELLO_WAIT_MS = const(15000)


class SimFailed(Exception):
    pass


class SimClock(Clock):
    def __init__(self, master, name):
        self.name = name
        self.gen = -1
        self.t_us = 0
        self._pending = None  # (gen, t_us) of a `now` not yet followed by `go`
        self.counts = {}
        self._last = None
        self.side = None  # (pollable, handler): served during a wait with no poller of its own
        self.uarts = []  # transports with absorb(): their input is taken in during any wait
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(socket.getaddrinfo("127.0.0.1", 0)[0][-1])
        s.connect(socket.getaddrinfo(master[0], master[1])[0][-1])
        self.sock = s
        s.send(("hello %s" % name).encode())
        p = select.poll()
        p.register(s, select.POLLIN)
        while self.gen < 0:
            if not p.poll(_HELLO_WAIT_MS):
                raise OSError("no time master answered")
            self._take()

    # -- time ----------------------------------------------------------------------------------

    def ticks_ms(self):
        return self.t_us // 1000

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, delta):
        return a + delta

    def time(self):
        return self.t_us // 1000000

    def virtual_s(self):
        return self.t_us / 1000000

    def sleep_ms(self, ms):
        if ms > 0:
            self.block(None, self.ticks_ms() + ms)

    # -- the master ----------------------------------------------------------------------------

    def count(self, key, n):
        # n = 0 declares the receiving side of a channel (the master then awaits its bytes)
        self.counts[key] = self.counts.get(key, 0) + n

    def _take(self):
        # Read one message: "now GEN T_US" announces a time (answer "ready", do not act yet),
        # "go GEN" moves to it; "time GEN T_US [r]" answers "when" (-> True): act at it, or
        # with r answer "ready" and wait for its go; "fail WHY" ends the run.
        words = self.sock.recv(256).decode().split(" ")
        if words[0] in ("now", "time") and len(words) > 2:
            gen = int(words[1])
            phase = words[0] == "now" or len(words) == 4  # a `go` follows: answer "ready"
            if gen > self.gen:
                self._pending = (gen, int(words[2]))
                if not phase:
                    self._go()
            if phase and gen >= self.gen:  # (== : it asked first, input overtook the `now`)
                self.sock.send(("ready %s %d" % (self.name, gen)).encode())
            return words[0] == "time"
        if words[0] == "go" and len(words) == 2:
            if self._pending is not None and int(words[1]) == self._pending[0]:
                self._go()
        elif words[0] == "fail":
            raise SimFailed(" ".join(words[1:]))
        return False

    def _go(self):
        self.gen, self.t_us = self._pending  # type: ignore[misc]
        self._pending = None
        self._last = None  # its report no longer stands: the next one is sent

    def _input(self):
        # Input came: at the time of a `now` (its sender got `go` first); or, while this
        # board's report stands, at a time the master may have moved to without telling it
        # (it tells only those whose deadline comes): it asks ("when") before acting.
        if self._pending is not None:
            self._go()
        elif self._last is not None:
            self._last = None
            self.sock.send(("when %s" % self.name).encode())
            p = select.poll()
            p.register(self.sock, select.POLLIN)
            told = False
            while not told or self._pending is not None:
                p.poll(-1)
                told = self._take() or told

    def _report(self, deadline_ms, mode="-"):
        # -> False when it asked the time instead: its last report stood and differs from this
        # one, so time may have moved without it (it was parked at its prompt, paced).
        dl = "-" if deadline_ms is None else str(max(deadline_ms * 1000, self.t_us + 1))
        pairs = " ".join("%s=%d" % kv for kv in self.counts.items())
        line = "idle %s %d %s %s %s" % (self.name, self.gen, dl, mode, pairs)
        if line == self._last:
            return True
        if self._last is not None:
            self._input()
            return False
        self._last = line
        self.sock.send(line.encode())
        return True

    def flush(self):
        # Report the counters now, as an idle participant with no deadline (the board is about
        # to ask the host to power it down: it will not get the chance later).
        while not self._report(None):
            pass

    def park(self):
        # The board's program is over (main.py ended, a Ctrl-C broke in, or a raw REPL boot):
        # its REPL reads the console and nothing else, so the board waits for a person. A `now`
        # it was sent is answered and its `go` awaited, then it reports idle with no deadline,
        # paced: time runs at wall speed while it sits at its prompt, as a board's would.
        p = select.poll()
        p.register(self.sock, select.POLLIN)
        try:
            while True:
                if p.poll(0):
                    self._take()
                elif self._pending is None:
                    break
                else:
                    p.poll(-1)
            while not self._report(None, "p"):
                pass
        except (SimFailed, OSError):
            pass  # the run is over: the REPL stays usable

    def block(self, poller, deadline_ms, owner=None):
        # Wait for poller's inputs or the deadline, in virtual time (see the header). What is
        # already readable is returned at once; once time has moved, the deadline comes first
        # (an input landing at the very instant of a timeout is read by the next wait).
        side = None
        if poller is None:
            poller = select.poll()
            side = self.side
            if side is not None:
                poller.register(side[0], select.POLLIN)
        else:
            ready = poller.poll(0)
            if ready:
                self._input()
                return ready
        others = {}  # file -> transport: UARTs this wait is not for (absorbed meanwhile)
        for uart in self.uarts:
            if uart is not owner:
                others[id(uart.fileobj())] = uart
                poller.register(uart.fileobj(), select.POLLIN)
        poller.register(self.sock, select.POLLIN)
        try:
            while True:
                if self._pending is None:
                    if deadline_ms is not None and self.ticks_ms() >= deadline_ms:
                        return []
                ready = [e for e in poller.poll(0) if e[0] is not self.sock]
                if self._absorb(ready, others):
                    continue
                if side is not None and ready:
                    self._input()
                    side[1]()  # pin events while sleeping, as IRQs are served
                    continue
                if ready:
                    self._input()
                    if deadline_ms is not None and self.ticks_ms() >= deadline_ms:
                        return []  # the deadline comes first at the new instant
                    return ready
                if self._pending is None and not self._report(deadline_ms):
                    continue
                for e in poller.poll(-1):
                    if e[0] is self.sock:
                        self._take()
        finally:
            poller.unregister(self.sock)
            if side is not None:
                poller.unregister(side[0])
            for uart in others.values():
                poller.unregister(uart.fileobj())

    def _absorb(self, ready, others):
        # Take in what reached a UART this wait is not for; True when something was.
        took = False
        for e in ready:
            uart = others.get(id(e[0]))
            if uart is not None:
                self._input()
                uart.absorb()
                took = True
        return took
