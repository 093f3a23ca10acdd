# What every AT modem driver shares (MIT licence): the attach state machine (probe, configure,
# register, each step the driver's) on the lifecycle fed by +CEREG, reboot detection, command
# counting, the CME error names, the ModemError every public call raises, and what the socket
# calls share (bounded inbox of pushed payloads, sockets reported closed, bounded waits). The
# drivers (bc95.py Huawei NSO*, ec200.py QI stack, bc660k.py) hold only what differs.
#
#   m.attach(timeout_ms) -> bool         off/error/rebooted -> booting -> configuring ->
#                                        searching -> registered; commands in last_commands
#   m.closed(sock) -> bool               the module reported sock closed (peer, PDP loss, reset)
#   m.identity() / m.signal() / m.poll(ms) / m.idle(ms)
#   m.lifecycle / m.reg / m.boots / m.last_error / m.unsupported / m.last_commands
# The information calls' parsers (nbkit.lte.ident, csq) are imported when first called: a
# routine report wake never loads them (every module a wake loads costs heap: its functions
# and its interned names, docs/architecture.md "Heap").
# Errors: socket and information calls raise ModemError(message, reply, code); attach returns
# False and sets last_error (a reason a person can act on). Nothing here raises on bad input
# from the module: an unparsable line is ignored (URC) or reported as a ModemError (reply).
from micropython import const

from nbkit.modem import lifecycle as lc

_PROBE_TRIES = const(10)  # "AT" until OK after boot (the first may answer ERROR or nothing)
_PROBE_GAP_MS = const(500)
_INBOX_MAX = const(8)  # payloads the module pushed, kept until recv(); more are counted lost

# +CME ERROR codes every module uses (3GPP TS 27.007 §9.2; 159/536/537 Huawei/Quectel NB-IoT),
# "code name" per line: one string of heap instead of a dict
CME_NAMES = """
3 operation not allowed
4 operation not supported
10 SIM not inserted
13 SIM failure
30 no network service
50 incorrect parameters
159 uplink busy
536 UART buffer full
537 back-off timer running
"""


class ModemError(Exception):
    def __init__(self, message, reply=None, code=None):
        super().__init__(message)
        self.reply = reply
        self.code = code


def cme_name(code):
    # -> the name of a +CME ERROR code, or None
    key = "\n%d " % code
    at = CME_NAMES.find(key)
    if at < 0:
        return None
    start = at + len(key)
    return CME_NAMES[start : CME_NAMES.index("\n", start)]


def why(reply):
    # A reply's failure in words: "CME 50 (incorrect parameters)", "ERROR", "timeout".
    code = reply.cme
    if code is None:
        return reply.result
    name = cme_name(code)
    return "CME %d (%s)" % (code, name) if name else "CME %d" % code


class AtModem:
    IDENT = "QUECTEL"  # identity command set, by name in nbkit.lte.ident ("HUAWEI" on Neul)

    MODELS = ()  # the registry models (nbkit.modem.models) the driver class drives

    def __init__(self, engine, clock, *, apn, model, max_failures, cereg_n):
        if model not in self.MODELS:
            raise ValueError("model must be one of %r" % (self.MODELS,))
        self.engine = engine
        self.clock = clock
        self.apn = apn
        self.model = model
        self.cereg_n = cereg_n
        self.lifecycle = lc.Lifecycle(max_failures)
        self.reg = None  # last cereg.Reg seen
        self.boots = 0  # reboot banners (or RDY) seen
        self.last_error = None
        self.last_commands = 0
        self.unsupported = []  # optional commands the module refused
        self.inbox_dropped = 0  # pushed payloads lost (inbox full, cut short)
        # The app's word that the last attempt found no cell (it keeps that across deep
        # sleep): a driver may then give a search up early when the module has camped on no
        # cell at all (nbkit.modem.bc95), rather than search a whole attach timeout again.
        self.hole_known = False
        self._inbox = []  # [(sock, payload)] pushed by the module, until recv()
        self._closed = []  # sockets the module reported closed

    # -- bring-up ---------------------------------------------------------------------------

    def attach(self, timeout_ms=120000):
        return self._counted(self._attach, timeout_ms)

    def _attach(self, timeout_ms):
        # The attach state machine; each failure is counted (past max_failures: error state).
        lcy = self.lifecycle
        if self._up():
            return True
        if lcy.state in (lc.OFF, lc.ERROR, lc.REBOOTED):
            lcy.event(lc.EV_POWER_ON)
        self._wake()
        if not self._probe():
            return self._failed("no answer to AT")
        why = self._configure()
        if why:
            return self._failed(why)
        lcy.event(lc.EV_CONFIGURED)
        why = self._register(timeout_ms)
        return self._failed(why) if why else True

    # the driver's steps: _configure() and _register(timeout_ms) -> why it failed, or None
    def _configure(self):
        raise NotImplementedError

    def _register(self, timeout_ms):
        raise NotImplementedError

    def _up(self):
        # Nothing to do for attach() (registered; QI drivers: with the context up).
        return self.lifecycle.online

    def _wake(self):
        pass  # a driver with a wake line (DTR) drives it here

    def _counted(self, fn, *args):
        start = self.engine.commands
        try:
            return fn(*args)
        finally:
            self.last_commands = self.engine.commands - start

    def _probe(self):
        # "AT" until OK: the first command after boot may answer ERROR or nothing.
        for attempt in range(_PROBE_TRIES):
            if attempt:
                self.engine.idle(_PROBE_GAP_MS)
            if self.engine.command("AT", None, 500).ok:
                self.lifecycle.event(lc.EV_BOOTED)  # only moves booting / rebooted on
                return True
        return False

    def _failed(self, why):
        self.last_error = why
        self.lifecycle.fail()
        return False

    def _unsupported(self, command):
        if command not in self.unsupported:
            self.unsupported.append(command)

    def _on_reg(self, reg):
        if reg is None:
            return
        self.reg = reg
        self.lifecycle.event(lc.registration_event(reg))

    def _rebooted(self):
        # Reboot detection: a banner (REBOOT_CAUSE_*, RDY) the driver did not ask for. Sockets
        # and context are gone; the lifecycle goes to rebooted (unless it is booting anyway).
        self.boots += 1
        self.lifecycle.event(lc.EV_BANNER)

    def _wait(self, done, timeout_ms):
        # Route URCs until done() or timeout_ms passed -> done(). Never longer than timeout_ms.
        # A reboot banner meanwhile ends the wait (False): what it waited for went with the reset.
        clock = self.clock
        deadline = clock.ticks_add(clock.ticks_ms(), timeout_ms)
        boots = self.boots
        while not done():
            left = clock.ticks_diff(deadline, clock.ticks_ms())
            if left <= 0 or self.boots != boots:
                return False
            self.engine.poll(left)
        return True

    # -- what the socket calls share ---------------------------------------------------------

    def closed(self, sock):
        return sock in self._closed

    def _mark_closed(self, sock):
        if sock not in self._closed:
            self._closed.append(sock)

    def _reopened(self, sock):
        # sock is (again) ours: forget an old closed report.
        if sock in self._closed:
            self._closed.remove(sock)

    def _push(self, sock, payload):
        # A payload the module pushed (in a URC); None = it came cut short. Bounded.
        if payload is None or len(self._inbox) >= _INBOX_MAX:
            self.inbox_dropped += 1
        else:
            self._inbox.append((sock, payload))

    def _has_inbox(self, sock):
        for s, _ in self._inbox:
            if s == sock:
                return True
        return False

    def _take_inbox(self, sock):
        mine = [p for s, p in self._inbox if s == sock]
        self._inbox = [(s, p) for s, p in self._inbox if s != sock]
        return mine

    # -- information ------------------------------------------------------------------------

    def identity(self):
        # {"imei", "imsi", "iccid", "firmware"}: values None when the module does not say.
        from nbkit.lte import ident

        return self._counted(ident.read, self.engine, self.IDENT)

    def signal(self):
        # (rssi 0..31 or 99, dBm or None) from AT+CSQ.
        from nbkit.lte import csq

        reply = self._checked(csq.CMD, csq.PREFIX, 300)
        parsed = csq.parse(reply.lines[0]) if reply.lines else None
        if parsed is None:
            raise ModemError("AT+CSQ: no +CSQ line", reply)
        return (parsed[0], csq.rssi_dbm(parsed[0]))

    def poll(self, timeout_ms=0):
        # Route URCs that arrive within timeout_ms (returns after the first batch).
        return self.engine.poll(timeout_ms)

    def idle(self, ms):
        # Let ms pass while routing URCs (lifecycle events keep flowing).
        self.engine.idle(ms)

    def _checked(self, cmd, expect, timeout_ms):
        reply = self.engine.command(cmd, expect, timeout_ms)
        if not reply.ok:
            raise ModemError("%s: %s" % (cmd, self._why(reply)), reply, reply.cme)
        return reply

    def _why(self, reply):
        return why(reply)


def ignore(line, data):
    pass
