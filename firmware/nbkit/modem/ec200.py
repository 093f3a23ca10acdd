# Quectel QI-stack modem profile: EC200/EC600-class LTE Cat1 and BC26/BC66 (MIT licence).
# Formats: at-modems.md §3.2, §4 (parsers in nbkit.lte.qi).
#
# Public API (the shape of modem.bc95.Bc95 where it makes sense):
#   modem = Ec200(engine, clock, apn="", *, user="", password="", auth=0, model="ec200",
#                 dtr=None, cereg_n=2, max_failures=3)
#     dtr: an optional Pin (value(v)) wired to the module's DTR: high = may sleep (AT+QSCLK=1)
#   modem.lifecycle                           # nbkit.modem.lifecycle, fed by +CEREG/+CGREG
#   modem.attach(timeout_ms=120000) -> bool   # probe, ATE0/CMEE, CPIN READY, APN, registration
#                                             # (CEREG or CGREG stat 1/5), context active (QIACT)
#   modem.resume() -> bool                    # wake (DTR low), still registered + context up?
#   modem.sleep() -> bool                     # AT+QSCLK=1 and DTR high
#   modem.power_down() -> bool                # AT+CFUN=0 (attach() turns the radio on again)
#   modem.granted() -> (False, None, None)    # no PSM requested on Cat1
#   modem.identity() / modem.signal() / modem.resolve(host) -> [ip]
#   sock = modem.open(kind, host, port, mode=1)   # "TCP"/"UDP", +QIOPEN wait, close+retry
#   modem.send(sock, data) -> int             # AT+QISEND, '>' prompt, raw bytes, SEND OK
#   modem.recv(sock, timeout_ms=0) -> [bytes] # pushed payloads, or AT+QIRD in buffer mode
#   modem.close(sock) ; modem.closed(sock) -> bool ; modem.poll(ms) ; modem.idle(ms)
# Socket calls raise ModemError (.reply, .code = the 550..574 code when one was given).
# +QIURC "closed" marks one socket closed; "pdpdeact" marks every socket closed and the context
# down: the next resume() answers False and attach() activates the context again.
from micropython import const

from nbkit.at import chat
from nbkit.lte import cereg, qi
from nbkit.modem import base, models
from nbkit.modem import lifecycle as lc
from nbkit.modem.base import ModemError

MODELS = models.driven_by("Ec200")  # ec200, ec600, bc26 (bc660k: bc660k.py)
_CPIN_TRIES = const(5)  # the SIM is read a few seconds after RDY
_CPIN_GAP_MS = const(1000)
_REG_POLL_MS = const(2000)
_QIACT_MS = const(150000)  # AT+QIACT: up to 150 s (Quectel)
_QIOPEN_WAIT_MS = const(60000)  # +QIOPEN URC (RT-Thread ec200x: 60 s)
_OPEN_TRIES = const(2)
_SEND_WAIT_MS = const(10000)  # prompt + SEND OK
_DNS_WAIT_MS = const(60000)
_WAKE_MS = const(50)  # DTR low to the first command
_CFUN_MS = const(15000)
_READ_MAX = const(1500)  # AT+QIRD request size
_READS_MAX = const(8)  # AT+QIRD calls per recv()

INIT = chat.Script("ec200_init", (("ATE0", None, 300), ("AT+CMEE=1", None, 300)), attempts=2)


class Ec200(base.AtModem):
    MODELS = MODELS
    CONTEXT = 1  # PDP context the sockets open on (AT+QIOPEN=<contextID>,...)
    OPEN_MODE = qi.MODE_PUSH  # access mode of open() unless told
    SEND_MAX = qi.SEND_MAX  # bytes per AT+QISEND
    # URCs with nothing to do
    IGNORED = ("+CPIN:", "+QUSIM:", "+QIND:", "+CFUN:", "+CSCON:")  # type: tuple[str, ...]

    def __init__(
        self,
        engine,
        clock,
        apn="",
        *,
        user="",
        password="",
        auth=qi.AUTH_NONE,
        model="ec200",
        dtr=None,
        cereg_n=2,
        max_failures=3,
        psm=None,
    ):
        # psm: not requested on Cat1 (support varies by firmware, at-modems.md §2.4); accepted
        # so every driver takes the same keywords (nbkit.app.links.make_modem)
        qi.qicsgp(apn, user, password, auth)  # refuses quotes and bad auth now, not at attach
        super().__init__(
            engine,
            clock,
            apn=apn,
            model=model,
            max_failures=max_failures,
            cereg_n=cereg_n,
        )
        self.user = user
        self.password = password
        self.auth = auth
        self.dtr = dtr
        self.pdp_active = False
        self.address = None
        self.asleep = False
        self._opened = {}  # sock -> +QIOPEN err (None while waiting)
        self._socks = {}  # sock -> access mode of an open socket
        self._pending = []  # buffer-mode sockets with unread data
        self._dns = None  # type: list | None  # [err, count, [ips]] while resolving
        self._register_urcs()
        # RDY ends whatever command waits (a QISEND/QMTPUB prompt, a reply): the module reset
        engine.abort_on = ("RDY",)

    # -- bring-up -------------------------------------------------------------------------

    def _up(self):
        return self.lifecycle.online and self.pdp_active

    def _register(self, timeout_ms):
        # Wait for CEREG/CGREG home/roaming, then the PDP context up -> why, or None.
        if not self._wait_registered(timeout_ms):
            if self.lifecycle.state == lc.REBOOTED:
                return "modem reset during attach (RDY)"
            return "not registered (stat %s)" % (self.reg and self.reg.stat,)
        if not self._activate():
            return self.last_error or "PDP context not activated"
        return None

    def _configure(self):
        # -> why it failed, or None.
        if not chat.run(self.engine, INIT).ok:
            return "%s refused" % INIT.name
        state = self._sim_state()
        if state != "READY":
            return "SIM not ready (%s)" % state
        for cmd in self._optional_commands():
            if not self.engine.command(cmd, None, 1000).ok:
                self._unsupported(cmd)
        if self.apn and not self.engine.command(self._apn_cmd(), None, 1000).ok:
            return "APN %r refused" % self.apn
        if not self.engine.command("AT+CFUN=1", None, _CFUN_MS).ok:  # after power_down()
            return "AT+CFUN=1 refused"
        return None

    def _optional_commands(self):
        # URC settings (and power requests): a refusal is recorded in unsupported, never fatal.
        return (cereg.set_cmd(self.cereg_n), "AT+CGREG=2")

    def _apn_cmd(self):
        if self.model == "bc26":  # MTK: the default PDN is set with QCGDEFCONT
            return 'AT+QCGDEFCONT="IP","%s"' % self.apn
        return qi.qicsgp(self.apn, self.user, self.password, self.auth)

    def _sim_state(self):
        # "READY", another +CPIN state, or the error ("CME 10" = SIM not inserted).
        state = None
        for attempt in range(_CPIN_TRIES):
            if attempt:
                self.engine.idle(_CPIN_GAP_MS)
            reply = self.engine.command("AT+CPIN?", qi.CPIN, 5000)
            state = qi.parse_cpin(reply.lines[0]) if reply.ok and reply.lines else None
            if state == "READY":
                return state
            if state is None:
                state = "%s %s" % (reply.result, reply.cme)
        return state

    def _wait_registered(self, timeout_ms):
        # AT+CEREG?/CGREG? every _REG_POLL_MS (covers a lost URC); a +CEREG/+CGREG URC that
        # says registered ends the wait at once. (engine.idle() here slept out the whole poll
        # gap after the URC: 2 s of ticks, 80 device-minutes on the x2400 virtual board.)
        deadline = self.clock.ticks_add(self.clock.ticks_ms(), timeout_ms)
        while True:
            if self._registered_now():
                return True
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0:
                return False
            if self.engine.wait_until(self._online, min(left, _REG_POLL_MS)):
                return True
            if self.lifecycle.state == lc.REBOOTED:
                return False  # a reset (RDY) meanwhile: the settings are gone, start again

    def _online(self):
        return self.lifecycle.online

    def _registered_now(self):
        # AT+CEREG? then AT+CGREG? (a Cat1 module may report PS registration in either).
        for cmd, prefix in (("AT+CEREG?", cereg.PREFIX), ("AT+CGREG?", qi.CGREG)):
            reply = self.engine.command(cmd, prefix, 1000)
            if reply.ok and reply.lines:
                reg = qi.parse_reg(reply.lines[0], read=True)
                self._on_reg(reg)
                if reg is not None and reg.registered:
                    return True
        return False

    def _activate(self):
        # Context 1 active? AT+QIACT? lists active contexts; else AT+QIACT=1. BC26 activates
        # the default PDN at attach: QIACT? is enough there.
        self.pdp_active = False
        reply = self.engine.command("AT+QIACT?", qi.QIACT, 5000)
        for line in reply.lines:
            parsed = qi.parse_qiact(line)
            if parsed and parsed[0] == 1 and parsed[1]:
                self.pdp_active = True
                self.address = parsed[2]
                return True
        if self.model == "bc26" and not reply.lines:
            self.pdp_active = True  # MTK: the default bearer comes with the attach (no QIACT)
            return True
        reply = self.engine.command("AT+QIACT=1", None, _QIACT_MS)
        if not reply.ok:
            self.last_error = "AT+QIACT=1: %s" % self._why(reply)
            return False
        self.pdp_active = True
        return True

    def resume(self):
        # Wake the module (DTR low) and check it is still registered with its context up.
        # False: the caller runs attach() (after a module reset, lost registration or PDP).
        return self._counted(self._resume)

    def _resume(self):
        if not (self.lifecycle.online and self.pdp_active):
            return False
        self._wake()
        if not self._probe():
            return False
        return self._registered_now() and self.pdp_active

    def granted(self):
        # (psm_granted, active_s, tau_s): no PSM is requested on Cat1 (support varies by
        # firmware, at-modems.md §2.4); the module sleeps by AT+QSCLK/DTR instead.
        return (False, None, None)

    def power_down(self):
        # AT+CFUN=0: radio off until the next attach (which turns it on again).
        ok = self.engine.command("AT+CFUN=0", None, _CFUN_MS).ok
        if ok:
            self.pdp_active = False
            self.lifecycle.event(lc.EV_POWER_OFF)
        else:
            self.last_error = "AT+CFUN=0 refused"
        return ok

    def sleep(self):
        # Allow sleep: AT+QSCLK=1, then DTR high (the module sleeps when idle; URCs pull RI).
        ok = self.engine.command("AT+QSCLK=1", None, 300).ok
        if ok and self.dtr is not None:
            self.dtr.value(1)
            self.asleep = True
        return ok

    def _wake(self):
        if self.dtr is not None:
            self.dtr.value(0)
            if self.asleep:
                self.engine.idle(_WAKE_MS)
        self.asleep = False

    # -- information (identity, signal: nbkit.modem.base) -----------------------------------

    def resolve(self, host, timeout_ms=_DNS_WAIT_MS):
        # AT+QIDNSGIP -> the addresses ("1.2.3.4" is returned as it is, no DNS query).
        if _is_ip(host):
            return [host]
        self._dns = [None, 0, []]
        try:
            reply = self._checked(qi.qidnsgip(host), None, 1000)
            if not self._wait(self._dns_done, timeout_ms):
                raise ModemError("DNS %s: no answer" % host, reply, 569)
            err, _, ips = self._dns or (569, 0, [])
            if err:
                raise ModemError("DNS %s: %s" % (host, qi.error_name(err)), reply, err)
            return ips
        finally:
            self._dns = None

    def _dns_done(self):
        if self._dns is None:
            return True
        err, count, ips = self._dns
        return err is not None and (err != 0 or len(ips) >= count)

    # -- sockets --------------------------------------------------------------------------

    def open(self, kind, host, port, mode=None, sock=None):
        # -> connect id. Waits for +QIOPEN; on an error code or no answer the id is closed and
        # the open tried once more, then ModemError(code=...).
        if mode is None:
            mode = self.OPEN_MODE
        if sock is None:
            sock = self._free_id()
        start = self.engine.commands
        err = None
        boots = self.boots
        try:
            for attempt in range(_OPEN_TRIES):
                if self.boots != boots:  # RDY: the module reset under QIOPEN, nothing is open
                    raise ModemError("QIOPEN %s %s:%d: modem reset (RDY)" % (kind, host, port))
                if attempt:
                    self.engine.command(qi.qiclose(sock), None, 10000)
                err = self._open_once(sock, kind, host, port, mode)
                if err == 0 and self.boots == boots:
                    self._socks[sock] = mode
                    self._reopened(sock)
                    return sock
            name = (
                "modem reset (RDY)"
                if self.boots != boots
                else qi.error_name(err)
                if err
                else "no +QIOPEN"
            )
            raise ModemError("QIOPEN %s %s:%d: %s" % (kind, host, port, name), None, err)
        finally:
            self._opened.pop(sock, None)
            self.last_commands = self.engine.commands - start

    def _open_once(self, sock, kind, host, port, mode):
        self._opened[sock] = None
        cmd = qi.qiopen(sock, kind, host, port, mode, context=self.CONTEXT)
        reply = self.engine.command(cmd, None, 5000)
        if not reply.ok:
            return reply.cme if reply.cme else 550
        self._wait(lambda: self._opened.get(sock) is not None, _QIOPEN_WAIT_MS)
        return self._opened.get(sock)

    def _free_id(self):
        for sock in range(qi.MAX_SOCKETS):
            if sock not in self._socks:
                return sock
        raise ModemError("no free socket id")

    def send(self, sock, data):
        # Raw bytes in parts of at most SEND_MAX; -> bytes sent. SEND FAIL / ERROR raise.
        if sock not in self._socks or sock in self._closed:
            raise ModemError("socket %d is not open" % sock, None, 567)
        start = self.engine.commands
        sent = 0
        boots = self.boots
        view = memoryview(data)
        try:
            while sent < len(data):
                part = view[sent : sent + self.SEND_MAX]
                reply = self.engine.command(
                    qi.qisend(sock, len(part)),
                    None,
                    _SEND_WAIT_MS,
                    data=bytes(part),
                    extra_ok=("SEND OK",),
                    extra_err=("SEND FAIL",),
                )
                if self.boots != boots:  # RDY under QISEND: whatever it answered is not ours
                    raise ModemError("QISEND %d: modem reset (RDY)" % sock, reply)
                if not reply.ok:
                    raise ModemError("QISEND %d: %s" % (sock, self._why(reply)), reply, reply.cme)
                sent += len(part)
            return sent
        finally:
            self.last_commands = self.engine.commands - start

    def recv(self, sock, timeout_ms=0):
        # Payloads for sock (a TCP stream arrives in pieces of any size). Waits up to
        # timeout_ms for a "recv" URC (or "closed"); buffer mode reads with AT+QIRD.
        start = self.engine.commands
        try:
            self._wait(
                lambda: self._has_inbox(sock) or sock in self._pending or sock in self._closed,
                timeout_ms,
            )
            out = self._take_inbox(sock)
            if sock in self._pending:
                out.extend(self._read_all(sock))
            return out
        finally:
            self.last_commands = self.engine.commands - start

    def _read_all(self, sock):
        out = []
        self._pending.remove(sock)
        for _ in range(_READS_MAX):
            reply = self.engine.command(
                qi.qird(sock, _READ_MAX), qi.QIRD, 2000, raw_len=qi.qird_len
            )
            if not reply.ok or not reply.data:
                break
            out.append(bytes(reply.data))
        return out

    def close(self, sock):
        self._socks.pop(sock, None)
        self._reopened(sock)
        if sock in self._pending:
            self._pending.remove(sock)
        reply = self.engine.command(qi.qiclose(sock), None, 10000)
        if not reply.ok:
            raise ModemError("AT+QICLOSE=%d: %s" % (sock, self._why(reply)), reply, reply.cme)

    # -- URCs (record state only) ---------------------------------------------------------

    def _register_urcs(self):
        on = self.engine.on_urc
        # direct push: '+QIURC: "recv",id,len' is followed by len raw bytes, read by count
        on(qi.QIURC, self._urc_qiurc, qi.recv_len if self.OPEN_MODE == qi.MODE_PUSH else None)
        on(qi.QIOPEN, self._urc_qiopen)
        on(cereg.PREFIX, self._urc_reg)
        on(qi.CGREG, self._urc_reg)
        on("RDY", self._urc_ready)
        for prefix in self.IGNORED:
            on(prefix, base.ignore)

    def _urc_reg(self, line, data):
        self._on_reg(qi.parse_reg(line))

    def _urc_qiopen(self, line, data):
        parsed = qi.parse_qiopen(line)
        if parsed and parsed[0] in self._opened:
            self._opened[parsed[0]] = parsed[1]

    def _urc_qiurc(self, line, data):
        urc = qi.parse_qiurc(line)
        if urc is None:
            return
        if urc.kind == "recv":
            self._on_recv(urc, data)
        elif urc.kind == "closed":
            self._mark_closed(urc.sock)
        elif urc.kind == "pdpdeact":
            self.pdp_active = False
            for sock in self._socks:
                self._mark_closed(sock)
        elif urc.kind == "dnsgip" and self._dns is not None:
            if urc.ip is not None:
                self._dns[2].append(urc.ip)
            else:
                self._dns[0] = urc.err
                self._dns[1] = urc.count or 0

    def _on_recv(self, urc, data):
        if urc.length is None:  # buffer mode: read later with AT+QIRD
            if urc.sock not in self._pending:
                self._pending.append(urc.sock)
        elif data is None or data:  # None: cut short (counted lost); b"": nothing came
            self._push(urc.sock, bytes(data) if data else None)

    def _urc_ready(self, line, data):
        # "RDY": the module (re)booted by itself; sockets and context are gone.
        self.pdp_active = False
        for sock in self._socks:
            self._mark_closed(sock)
        self._rebooted()

    def _why(self, reply):
        # the QI stack's own codes 550..574 by name, others as nbkit.modem.base says
        if reply.cme is not None and reply.cme >= 550:
            return qi.error_name(reply.cme)
        return base.why(reply)


def _is_ip(host):
    parts = host.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or int(p) > 255:
            return False
    return True
