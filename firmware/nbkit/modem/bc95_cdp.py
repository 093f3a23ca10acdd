# CoAP to an operator IoT platform through a BC95/BC28 (nbkit.lte.cdp), next to the Bc95
# profile: it only needs modem.engine and modem.clock, so bc95.py stays as it is (MIT licence).
#
#   cdp = Cdp(modem, "49.4.85.232", 5683)
#   cdp.setup() -> bool          # AT+NCDP (only when it differs), AT+NSMI=1, AT+NNMI=1
#   cdp.send(data) -> bool       # AT+NMGS; +CME ERROR: 513 (platform registration not done
#                                # yet) is retried every 2 s for at most 30 s, sooner when
#                                # +QLWEVTIND:3 says ready; True on +NSMI:SENT
#   cdp.recv(timeout_ms) -> [bytes]   # +NNMI:<len>,<hex> payloads; a bare +NNMI -> AT+NMGR
# The platform only sends downlink after an uplink (the device is in PSM otherwise).
from micropython import const

from nbkit.lte import cdp

_NOT_REGISTERED_WAIT_MS = const(30000)
_RETRY_MS = const(2000)
_SENT_WAIT_MS = const(10000)  # +NSMI after the OK of AT+NMGS
_INBOX_MAX = const(8)
_NMGR_MAX = const(8)


class Cdp:
    def __init__(self, modem, ip, port=cdp.PORT):
        cdp.ncdp(ip, port)  # refuses a bad address now
        self.modem = modem
        self.engine = modem.engine
        self.clock = modem.clock
        self.ip = ip
        self.port = port
        self.ready = False  # +QLWEVTIND:3 / MO_DATA_ENABLED seen
        self.smi = True  # the module reports +NSMI (AT+NSMI=1 accepted)
        self.not_registered = 0  # CME 513 answers seen
        self.discarded = 0  # +NSMI other than SENT
        self.inbox_dropped = 0
        self.last_error = None
        self._sent = None  # last +NSMI word
        self._inbox = []
        self._buffered = 0  # bare +NNMI indications not read yet
        on = self.engine.on_urc
        on(cdp.NNMI, self._urc_nnmi)
        on(cdp.NSMI, self._urc_nsmi)
        on(cdp.QLWEVTIND, self._urc_evt)

    def setup(self):
        e = self.engine
        reply = e.command("AT+NCDP?", cdp.NCDP, 1000)
        now = cdp.parse_ncdp(reply.lines[0]) if reply.ok and reply.lines else None
        if now != (self.ip, self.port):
            if not e.command(cdp.ncdp(self.ip, self.port), None, 1000).ok:
                self.last_error = "AT+NCDP refused"
                return False
        self.smi = e.command(cdp.SMI_ON, None, 300).ok
        if not e.command(cdp.NMI_ON, None, 300).ok:
            self.last_error = "AT+NNMI=1 refused"
            return False
        return True

    def status(self):
        # AT+NMSTATUS? -> the platform registration status text (or None).
        reply = self.engine.command(cdp.NMSTATUS_READ, cdp.NMSTATUS, 1000)
        state = cdp.parse_nmstatus(reply.lines[0]) if reply.ok and reply.lines else None
        if state == cdp.MO_DATA_ENABLED:
            self.ready = True
        return state

    def send(self, data):
        # -> True when the module reports the message sent to the platform.
        cmd = cdp.nmgs(data)
        deadline = self.clock.ticks_add(self.clock.ticks_ms(), _NOT_REGISTERED_WAIT_MS)
        while True:
            self._sent = None
            reply = self.engine.command(cmd, None, 5000)
            if reply.ok:
                return self._wait_sent()
            if reply.cme != cdp.CME_NOT_REGISTERED:
                self.last_error = "AT+NMGS: %r" % (reply,)
                return False
            self.not_registered += 1
            self.ready = False
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0:
                self.last_error = "platform registration not done (CME 513), status %s" % (
                    self.status(),
                )
                return False
            self._wait_ready(min(left, _RETRY_MS))

    def _wait_ready(self, ms):
        deadline = self.clock.ticks_add(self.clock.ticks_ms(), ms)
        while not self.ready:
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0:
                return
            self.engine.poll(left)

    def _wait_sent(self):
        if not self.smi:
            return True  # no indications: OK is all this module says
        deadline = self.clock.ticks_add(self.clock.ticks_ms(), _SENT_WAIT_MS)
        while self._sent is None:
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0:
                self.last_error = "no +NSMI after AT+NMGS"
                return False
            self.engine.poll(left)
        if self._sent.startswith("SENT"):
            return True
        self.discarded += 1
        self.last_error = "+NSMI:%s" % self._sent
        return False

    def recv(self, timeout_ms=0):
        deadline = self.clock.ticks_add(self.clock.ticks_ms(), timeout_ms)
        while not self._inbox and not self._buffered:
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0:
                break
            self.engine.poll(left)
        out, self._inbox = self._inbox, []
        if self._buffered:
            out.extend(self._read_buffered())
        return out

    def _read_buffered(self):
        out = []
        self._buffered = 0
        for _ in range(_NMGR_MAX):
            reply = self.engine.command(cdp.NMGR, "", 1000)
            data = cdp.parse_nmgr(reply.lines[0]) if reply.ok and reply.lines else None
            if not data:
                break
            out.append(data)
        return out

    # -- URCs (record state only) ---------------------------------------------------------

    def _urc_nnmi(self, line, data):
        payload = cdp.parse_nnmi(line)
        if payload is None or len(self._inbox) >= _INBOX_MAX:
            self.inbox_dropped += 1
        elif payload:
            self._inbox.append(payload)
        else:
            self._buffered += 1

    def _urc_nsmi(self, line, data):
        self._sent = cdp.parse_nsmi(line) or "?"

    def _urc_evt(self, line, data):
        if cdp.parse_qlwevtind(line) == cdp.EVT_READY:
            self.ready = True
