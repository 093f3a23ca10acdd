# MicroPython side of test_driver_vs_emulator (and of the at-driver bench): the real BC95/BC28
# driver (nbkit.at.engine + nbkit.modem.bc95 over nbkit.hal.tty.TtyTransport) does one
# attach + open + send + receive cycle against `nbkit emulate` on its pty, retrying the way an
# application would (bounded), and prints ONE JSON line with what happened:
#   attach: [bool per attach call], errors: [messages], sent, echo (hex or None),
#   states: lifecycle states in order, peak: live heap above the baseline taken before the
#   transport, engine and driver were built (gc.collect() at every transport read/write),
#   counters: engine counters, phases: {name: [round trips, bytes out, bytes in]}.
# Run: micropython -X heapsize=128wK tests/e2e/emu_cycle.py /dev/pts/N '{"port": 7, ...}'
# Options (JSON): model, nsonmi, port (UDP echo on 127.0.0.1), payload (hex), flags (NSOSTF),
# tries (app-level attempts), attach_ms, recv_ms, retry_ms, psm ([tau_s, active_s]: AT+CPSMS
# before attach), watch_ms (route URCs that long after the cycle), cereg_n, rounds and gap_ms
# (exchanges, the pause between them), until ([state, n]: stop n rounds after the lifecycle
# entered state after registering, instead of running all rounds), sim (["HOST:PORT", name]:
# keep device time with that time master as participant `name` ("m0.w1": its UART counted on
# channel m0 as a board's, tests/e2e/simwire.py); without it the clock is the wall clock).
import gc
import json
import sys
import time

import simwire
from heap_probe import HeapProbe
from nbkit.at.engine import Engine
from nbkit.hal.clock import Clock
from nbkit.hal.tty import TtyTransport
from nbkit.lte import psm
from nbkit.modem.bc95 import NSONMI_DATA_LINE, Bc95, ModemError


def _mark(engine):
    return (engine.commands, engine.bytes_out, engine.bytes_in)


def _delta(engine, mark):
    now = _mark(engine)
    return [now[0] - mark[0], now[1] - mark[1], now[2] - mark[2]]


class Cycle:
    def __init__(self, path, opts, base):
        self.opts = opts
        sim = opts.get("sim")
        if sim is None:
            self.clock = Clock()
            tty = TtyTransport(path)
        else:  # under the master no byte is dropped: what the line holds stays to be read
            self.clock = simwire.sim_clock(sim[0], sim[1])
            tty = simwire.counted_tty(path, self.clock, sim[1].split(".")[0], keep=True)
        self.tty = HeapProbe(tty, base)
        line_max = NSONMI_DATA_LINE if opts.get("nsonmi", 1) != 1 else 1100
        self.engine = Engine(self.tty, self.clock, line_max=line_max)
        self.modem = Bc95(
            self.engine,
            self.clock,
            model=opts.get("model", "bc28"),
            nsonmi=opts.get("nsonmi", 1),
            cereg_n=opts.get("cereg_n", 2),
        )
        self.states = []
        self.modem.lifecycle.subscribe(lambda old, new, ev: self.states.append(new))
        self.attaches = []
        self.errors = []
        self.phases = {}
        self.sent = None
        self.echo = None
        self.echoes = 0
        self.rounds = 0

    def attach(self):
        mark = _mark(self.engine)
        ok = self.modem.attach(self.opts.get("attach_ms", 60000))
        self.phases["attach"] = _delta(self.engine, mark)
        self.attaches.append(ok)
        if not ok:
            self.errors.append("attach: %s" % self.modem.last_error)
        return ok

    def request_psm(self):
        tau_s, active_s = self.opts["psm"]
        cmd = psm.request(tau_s, active_s)[0]
        reply = self.engine.command(cmd, None, 1000)
        if not reply.ok:
            self.errors.append("%s: %r" % (cmd, reply))

    def transaction(self, payload):
        # open, send, receive the echo, close: one application exchange.
        modem = self.modem
        mark = _mark(self.engine)
        sock = modem.open_udp()
        try:
            self.sent = modem.sendto(
                sock, "127.0.0.1", self.opts["port"], payload, self.opts.get("flags", 0)
            )
            self.phases["open_send"] = _delta(self.engine, mark)
            mark = _mark(self.engine)
            got = modem.recv(sock, self.opts.get("recv_ms", 1000))
            self.phases["receive"] = _delta(self.engine, mark)
        finally:
            try:
                modem.close(sock)
            except ModemError as exc:
                self.errors.append("close: %s" % exc)
        for dg in got:
            if dg.data == payload:
                return True
        raise ModemError("no echo (got %d datagrams)" % len(got))

    def run(self):
        payload = bytes.fromhex(self.opts.get("payload", "6e626b6974"))
        if "psm" in self.opts:
            self.modem.attach(self.opts.get("attach_ms", 60000))  # boot + configure first
            self.request_psm()
        until = self.opts.get("until")  # [state, n]: stop n rounds after it followed registered
        after = until[1] if until else None
        for n in range(self.opts.get("rounds", 1)):
            if n:
                self.modem.idle(self.opts.get("gap_ms", 0))
            if self.exchange(payload):
                self.echoes += 1
                self.echo = payload.hex()
            self.rounds += 1
            if until and self.seen_after_registered(until[0]):
                after -= 1
                if after < 0:
                    break
        if self.opts.get("watch_ms"):
            self.modem.idle(self.opts["watch_ms"])

    def seen_after_registered(self, state):
        # True once the lifecycle entered state after having registered (searching: a lost
        # registration, rebooted: a crash).
        states = self.states
        return "registered" in states and state in states[states.index("registered") :]

    def exchange(self, payload):
        # Up to `tries` attempts, attaching again whenever the lifecycle is not online.
        for _ in range(self.opts.get("tries", 3)):
            if not self.modem.lifecycle.online and not self.attach():
                self.modem.idle(self.opts.get("retry_ms", 100))
                continue
            try:
                return self.transaction(payload)
            except ModemError as exc:
                self.errors.append(str(exc))
                self.modem.idle(self.opts.get("retry_ms", 100))
        return False


def main(path, opts):
    gc.collect()
    start = time.ticks_ms()  # type: ignore[attr-defined]
    base = gc.mem_alloc()  # the peak includes the transport, engine and driver objects
    cycle = Cycle(path, opts, base)
    device_start = cycle.clock.ticks_ms()
    cycle.run()
    modem = cycle.modem
    out = {
        "attach": cycle.attaches,
        "errors": cycle.errors,
        "sent": cycle.sent,
        "echo": cycle.echo,
        "echoes": cycle.echoes,
        "rounds": cycle.rounds,
        "states": cycle.states,
        "state": modem.lifecycle.state,
        "boots": modem.boots,
        "backoffs": modem.backoffs,
        "unsupported": modem.unsupported,
        "peak": cycle.tty.peak,
        "counters": cycle.engine.counters(),
        "phases": cycle.phases,
        "ms": time.ticks_diff(time.ticks_ms(), start),  # type: ignore[attr-defined]
        "device_ms": cycle.clock.ticks_diff(cycle.clock.ticks_ms(), device_start),
    }
    cycle.tty.close()
    sim = opts.get("sim")
    if sim is not None:
        simwire.leave(cycle.clock, sim[1].split(".")[0])
    print(json.dumps(out))


main(sys.argv[1], json.loads(sys.argv[2]))
