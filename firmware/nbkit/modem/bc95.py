# Quectel BC95 / BC95-G / BC28 (Huawei "Neul" firmware) modem profile (MIT licence).
#
# Public API (everything else is private):
#   engine = Engine(transport, clock)          # nbkit.at.engine over a hal Transport
#   modem = Bc95(engine, clock, apn="", band=None, cereg_n=2, nsonmi=1, model="bc95")
#     (nsonmi 2 or 3 put the payload in the URC line: build Engine(..., line_max=2764) or more)
#   modem.lifecycle.subscribe(cb)              # cb(old_state, new_state, event) on change only
#   modem.attach(timeout_ms=120000) -> bool    # boot probe, configure, CFUN=1, CGATT=1, wait
#   modem.reboot() -> bool                     # AT+NRB, banner, first-command ERROR tolerated
#   modem.identity() -> dict                   # imei, imsi, iccid, firmware
#   modem.signal() -> (rssi, dbm) ; modem.ue_stats() -> dict (AT+NUESTATS)
#   modem.address() -> "10.x.y.z" or None      # AT+CGPADDR
#   sock = modem.open_udp(port=0)              # AT+NSOCR
#   modem.sendto(sock, ip, port, data, flags=0) -> int   # NSOST, or NSOSTF when flags
#   modem.recv(sock, timeout_ms=0) -> [Datagram]          # NSONMI + NSORF loop
#   modem.close(sock)                          # AT+NSOCL
#   modem.poll(timeout_ms) / modem.idle(ms)    # route URCs while the application waits
#   modem.last_commands                        # AT commands written by the last public call
# Power (nbkit.modem.bc95_power): Bc95(..., psm=(tau_s, active_s), edrx=cycle_ms) requests PSM /
# eDRX before attach (CEREG n raised to 4 so the grant shows); modem.granted() -> (psm_granted,
# active_s, tau_s) as GRANTED; modem.edrx_granted() -> (cycle_ms, ptw_ms) or None;
# modem.resume() -> bool after an MCU deep sleep (no re-attach while registered);
# modem.power_down() (AT+CFUN=0). Wake path:  modem.resume() or modem.attach(timeout_ms)
# Socket calls raise ModemError (with .reply) when the modem refuses; attach returns False and
# sets last_error (a reason a person can act on). Optional settings the module refuses are
# listed in modem.unsupported. URC handlers only record state; the driver acts after them.
# Datagram (nbkit.lte.sockets): sock, ip, port, length, data (bytes), remaining.
#
# Example (unix port, emulator on a pty):
#   clock = Clock(); engine = Engine(TtyTransport("/dev/pts/5"), clock)
#   modem = Bc95(engine, clock, apn="iot.example")
#   while not modem.attach():                   # each failure counts in the lifecycle;
#       if modem.lifecycle.state == "error":    # past max_failures it is the error state:
#           break                               # power-cycle the module (PWRKEY/reset pin)
#   if modem.lifecycle.online:
#       sock = modem.open_udp(); modem.sendto(sock, "127.0.0.1", 5683, frame, flags=0x400)
#       replies = modem.recv(sock, timeout_ms=10000); modem.close(sock)
#
# BC28 vs BC95: same command set here. NSONMI modes 2 and 3 need BC95-G/BC28 firmware (old
# BC95 B656 knows only mode 1, the default, which is then never sent).
from micropython import const

from nbkit.at import chat
from nbkit.at.engine import RESULT_TIMEOUT
from nbkit.lte import cereg, cscon, sockets
from nbkit.modem import base, models
from nbkit.modem import bc95_power as _pw
from nbkit.modem import lifecycle as lc
from nbkit.modem.base import ModemError  # noqa: F401  (raised by every public call)

MODELS = models.driven_by("Bc95")

_BOOT_WAIT_MS = const(30000)  # banner to OK after power-on or AT+NRB (TinyGSM: 10 s + 30 s)
_CEREG_POLL_MS = const(2000)  # AT+CEREG? this often while waiting for registration
# In a known coverage hole (hole_known), a search whose module has camped on no cell after
# this long (AT+CSQ still 99) ends: the cell is not back. A cell found is camped on within
# seconds (tens in the deepest coverage), well before the attach signalling ends.
_NO_CELL_MS = const(45000)
_BACKOFF_TRIES = const(4)  # NSOST tries on CME 159 / 536 / 537
_BACKOFF_FIRST_MS = const(250)  # doubled at each try: 250, 500, 1000 ms
_RECV_MAX = const(8)  # NSORF reads per recv() call
NSONMI_DATA_LINE = const(2 * 1358 + 48)  # longest +NSONMI mode 2 line (BC28 datagram limit)
_SEND_MAX = const(512)  # NSOST payload limit of early BC95 firmware (BC95-G/BC28: 1358)

CME_UPLINK_BUSY = const(159)
CME_UART_BUFFER = const(536)
CME_BACKOFF_TIMER = const(537)
_CONGESTION = const((CME_UPLINK_BUSY, CME_UART_BUFFER, CME_BACKOFF_TIMER))

BOOT_NOISE = ("REBOOTING", "Boot:", "Security ", "Protocol ", "Apps ")

# Dialogs as data: (command, expected, timeout_ms[, attempts]).
BC95_INIT = chat.Script(
    "bc95_init",
    (("ATE0", None, 300), ("AT+CMEE=1", None, 300)),
    attempts=2,
    retry_ms=300,
)
BC95_ATTACH = chat.Script(
    "bc95_attach",
    (("AT+CFUN=1", None, 15000), ("AT+CGATT=1", None, 5000)),
    abort=("+CME ERROR: 3",),
    attempts=2,
    retry_ms=1000,
)


def socket_script(name, command, expected):
    # A one-step socket dialog (open, close) with one retry.
    return chat.Script(name, ((command, expected, 1000),), attempts=2, retry_ms=300)


def urc_script(cereg_n, nsonmi):
    # The URC configuration as a script: CEREG=n, CSCON=1, NPSMR=1 (+ NSONMI=mode when not 1).
    steps = [(cereg.set_cmd(cereg_n), None, 300), (cscon.SET_URC, None, 300)]
    steps.append(("AT+NPSMR=1", None, 300))
    if nsonmi != 1:
        steps.append(("AT+NSONMI=%d" % nsonmi, None, 300))
    return chat.Script("bc95_urcs", tuple(steps), attempts=2, retry_ms=300)


class Bc95(base.AtModem):
    MODELS = MODELS
    IDENT = "HUAWEI"

    def __init__(
        self,
        engine,
        clock,
        apn="",
        band=None,
        *,
        cereg_n=2,
        nsonmi=1,
        model="bc95",
        max_failures=3,
        psm=None,
        edrx=None,
        dtr=None,
    ):
        # dtr: not used (the BC95 sleeps by PSM and wakes by the UART); accepted like the others
        if nsonmi not in (1, 2, 3):
            raise ValueError("NSONMI mode must be 1, 2 or 3")
        if nsonmi != 1 and engine.line_max < NSONMI_DATA_LINE:
            # +NSONMI with the payload in hex is one line: a 1358-byte datagram is 2716 chars.
            raise ValueError(
                "NSONMI mode %d needs Engine(line_max=%d)" % (nsonmi, NSONMI_DATA_LINE)
            )
        self.power_commands, self.psm_requested, self.edrx_requested = _pw.plan(psm, edrx)
        if psm is not None and cereg_n < 4:
            cereg_n = 4  # +CEREG n=4 carries the granted Active-Time and Periodic-TAU
        super().__init__(
            engine,
            clock,
            apn=apn,
            model=model,
            max_failures=max_failures,
            cereg_n=cereg_n,
        )
        self.edrx_nw = None  # last eDRX grant seen: (cycle_ms, ptw_ms) or None
        self.band = band
        self.nsonmi = nsonmi
        self.rrc = None  # last +CSCON mode
        self.boot_cause = None  # last REBOOT_CAUSE_* line
        self.backoffs = 0  # congestion retries (CME 159/536/537)
        self._no_cell = False  # the last registration wait ended for want of a cell
        self._pending = {}  # sock -> +NSONMI announcements not yet read
        self._read_max = min(512, (engine.line_max - 48) // 2)
        engine.banner_end = ("Neul",)  # the banner's own OK follows: nobody's answer
        self._register_urcs()

    # -- bring-up -------------------------------------------------------------------------

    def reboot(self):
        # AT+NRB: "REBOOTING", banner (REBOOT_CAUSE_APPLICATION_AT, Neul), OK; then AT probes.
        self.lifecycle.event(lc.EV_POWER_ON)
        self.engine.command("AT+NRB", "REBOOTING", _BOOT_WAIT_MS, banner=True)
        return self._probe()

    def _register(self, timeout_ms):
        # Radio on and attach (CFUN=1, CGATT=1), wait for +CEREG home/roaming -> why, or None.
        if self.lifecycle.online:
            return None
        outcome = chat.run(self.engine, BC95_ATTACH)
        if self.lifecycle.state == lc.REBOOTED:  # the banner ended CFUN=1 or CGATT=1
            return "modem rebooted during attach (%s)" % self.boot_cause
        if not outcome.ok:
            return "%s: %r" % (BC95_ATTACH.name, outcome)
        if not self._wait_registered(timeout_ms):
            if self.lifecycle.state == lc.REBOOTED:
                return "modem rebooted during attach (%s)" % self.boot_cause
            if self._no_cell:
                return "no cell found in %d s (coverage still lost)" % (_NO_CELL_MS // 1000)
            return "not registered (stat %s)" % (self.reg and self.reg.stat,)
        return None

    def _configure(self):
        # Required: echo off and numbered errors, band and APN when asked. Optional (recorded in
        # unsupported, never fatal): NCONFIG? and the URC settings; without +CEREG URCs the
        # registration is still found by polling AT+CEREG?. Returns why it failed, or None.
        if not chat.run(self.engine, BC95_INIT).ok:
            return "%s refused" % BC95_INIT.name
        if not self._autoconnect_off():
            return "AUTOCONNECT could not be turned off"
        if not self._band_ok():
            return "AT+NBAND=%s refused" % self.band
        if not self._apn_ok():
            return "APN %r refused" % self.apn
        for command in chat.run_each(self.engine, urc_script(self.cereg_n, self.nsonmi)):
            self._unsupported(command)
        for command in _pw.request(self):  # PSM/eDRX requests: before CFUN=1 and CGATT=1
            self._unsupported(command)
        return None

    def _autoconnect_off(self):
        # AUTOCONNECT=TRUE makes the module attach by itself after boot; turn it off and
        # reboot, but only when it is on (the setting survives reboots).
        reply = self.engine.command("AT+NCONFIG?", "+NCONFIG:", 1000)
        if not reply.ok:
            self._unsupported("AT+NCONFIG?")
            return True
        for line in reply.lines:
            if "AUTOCONNECT" in line and "TRUE" in line:
                set_off = self.engine.command("AT+NCONFIG=AUTOCONNECT,FALSE", None, 1000)
                return set_off.ok and self.reboot() and chat.run(self.engine, BC95_INIT).ok
        return True

    def _band_ok(self):
        if self.band is None:
            return True
        reply = self.engine.command("AT+NBAND?", "+NBAND:", 1000)
        if reply.ok and (reply.first("+NBAND:") or "").strip() == str(self.band):
            return True
        return self._radio_off() and self.engine.command("AT+NBAND=%d" % self.band).ok

    def _apn_ok(self):
        if not self.apn:
            return True
        cmd = 'AT+CGDCONT=1,"IP","%s"' % self.apn
        return self._radio_off() and self.engine.command(cmd, None, 1000).ok

    def _radio_off(self):
        # NBAND and CGDCONT need CFUN=0.
        return self.engine.command("AT+CFUN=0", None, 10000).ok

    def _wait_registered(self, timeout_ms):
        # +CEREG URCs move the lifecycle (looked at after every batch of lines, so a URC ends
        # the wait at once); AT+CEREG? every _CEREG_POLL_MS and once more at the deadline covers
        # a lost URC. False on timeout or when the module rebooted meanwhile, or (hole_known)
        # when it has camped on no cell at _NO_CELL_MS (sets _no_cell).
        clock = self.clock
        deadline = clock.ticks_add(clock.ticks_ms(), timeout_ms)
        next_poll = clock.ticks_add(clock.ticks_ms(), _CEREG_POLL_MS)
        camp_check = clock.ticks_add(clock.ticks_ms(), _NO_CELL_MS) if self.hole_known else None
        self._no_cell = False
        while not self.lifecycle.online:
            if self.lifecycle.state == lc.REBOOTED:
                return False
            now = clock.ticks_ms()
            if camp_check is not None and clock.ticks_diff(camp_check, now) <= 0:
                camp_check = None
                if self._no_cell_found():
                    self._no_cell = True
                    return False
            left = clock.ticks_diff(deadline, now)
            until_poll = clock.ticks_diff(next_poll, now)
            if until_poll > 0 and left > 0:
                self.engine.poll(min(left, until_poll))
                continue
            reply = self.engine.command("AT+CEREG?", cereg.PREFIX, 1000)
            if reply.ok and reply.lines:
                self._on_reg(cereg.parse(reply.lines[0], read=True))
            if left <= 0:
                return self.lifecycle.online
            next_poll = clock.ticks_add(clock.ticks_ms(), _CEREG_POLL_MS)
        return True

    def _no_cell_found(self):
        # AT+CSQ says 99 (no cell camped on) after _NO_CELL_MS of searching: give the search
        # up. A refused or unreadable CSQ gives nothing up (the wait goes on to its timeout).
        from nbkit.lte import csq

        reply = self.engine.command(csq.CMD, csq.PREFIX, 1000)
        parsed = csq.parse(reply.lines[0]) if reply.ok and reply.lines else None
        return parsed is not None and parsed[0] == csq.RSSI_UNKNOWN

    # -- power (bodies in nbkit.modem.bc95_power) ----------------------------------------------

    def granted(self):
        return self._counted(_pw.granted, self)

    def edrx_granted(self):
        return self._counted(_pw.edrx_granted, self)

    def resume(self):
        return self._counted(_pw.resume, self)

    def power_down(self):
        return self._counted(_pw.power_down, self)

    def ask_edrx(self, cycle_s):
        return self._counted(_pw.ask_edrx, self, cycle_s)

    # -- information (identity, signal: nbkit.modem.base) ------------------------------------

    def ue_stats(self):
        from nbkit.lte import nuestats

        return nuestats.parse(self._checked(nuestats.CMD, "", 1000).lines)

    def address(self):
        # The PDP address from AT+CGPADDR ("10.45.3.7"), or None before attach.
        from nbkit.lte import ident

        for line in self._checked(ident.CGPADDR, "+CGPADDR:", 1000).lines:
            parsed = ident.pdp_address(line)
            if parsed and parsed[1]:
                return parsed[1]
        return None

    # -- UDP ------------------------------------------------------------------------------

    def open_udp(self, port=0):
        # AT+NSOCR=DGRAM,17,<port>,1 -> the socket id (0..6).
        out = chat.run(self.engine, socket_script("bc95_open", sockets.create(port), ""))
        sock = sockets.parse_socket(out.reply.lines[0]) if out.ok and out.reply.lines else None
        self.last_commands = out.commands
        if sock is None:
            raise ModemError("AT+NSOCR: no socket id", out.reply)
        self._pending[sock] = 0
        return sock

    def sendto(self, sock, ip, port, data, flags=0):
        # Send one datagram; CME 159/536/537 (uplink busy, UART buffer, back-off timer) are
        # retried after 250, 500, 1000 ms. Returns the byte count the module accepted.
        if len(data) > _SEND_MAX:
            raise ModemError("payload longer than %d bytes" % _SEND_MAX)
        start = self.engine.commands
        cmd = sockets.sendto(sock, ip, port, data, flags)
        delay = _BACKOFF_FIRST_MS
        boots = self.boots
        try:
            for attempt in range(_BACKOFF_TRIES):
                reply = self.engine.command(cmd, "", 5000)
                if self.boots != boots:  # the banner aborted it: the module rebooted
                    raise ModemError("modem rebooted during sendto (%s)" % self.boot_cause, reply)
                if reply.ok:
                    sent = sockets.parse_sent(reply.lines[0]) if reply.lines else None
                    return sent[1] if sent else len(data)
                if reply.cme not in _CONGESTION or attempt == _BACKOFF_TRIES - 1:
                    break
                self.backoffs += 1
                self.engine.idle(delay)
                delay *= 2
            raise ModemError("sendto refused: %r" % (reply,), reply)
        finally:
            self.last_commands = self.engine.commands - start

    def recv(self, sock, timeout_ms=0):
        # Datagrams for sock. Waits up to timeout_ms for +NSONMI (or +NSOCLI), then reads with
        # AT+NSORF (see _read_all). Returns a list of Datagram (empty when nothing came).
        start = self.engine.commands
        try:
            self._wait_rx(sock, timeout_ms)
            out = self._take_inbox(sock)
            if self._pending.get(sock):
                out.extend(self._read_all(sock))
            return out
        finally:
            self.last_commands = self.engine.commands - start

    def close(self, sock):
        self._pending.pop(sock, None)
        self._reopened(sock)
        out = chat.run(self.engine, socket_script("bc95_close", sockets.close(sock), None))
        self.last_commands = out.commands
        if not out.ok:
            raise ModemError("AT+NSOCL=%d refused" % sock, out.reply)

    def closed_by_peer(self, sock):
        return self.closed(sock)

    def _wait_rx(self, sock, timeout_ms):
        # A reboot banner ends the wait too: the socket and what was in flight went with it
        # (the caller sees boots change; sleeping out the rest of the wait helps nobody).
        boots = self.boots
        self._wait(
            lambda: (
                self._pending.get(sock)
                or self._has_inbox(sock)
                or sock in self._closed
                or self.boots != boots
            ),
            timeout_ms,
        )

    def _read_all(self, sock):
        # One AT+NSORF per part. remaining_length > 0: the rest of the same datagram (longer
        # than the request) follows in the next read, and the parts are joined. After the last
        # part one more read is the re-check: a datagram that came during a read raised no new
        # URC. Only OK (or ERROR on some firmware) means empty. At most _RECV_MAX reads.
        out = []
        partial = None
        for _ in range(_RECV_MAX):
            self._pending[sock] = 0
            part = self._nsorf(sock)
            if part is None:
                break
            if partial is not None:
                partial.data += part.data
                partial.length += part.length
                partial.remaining = part.remaining
                part = partial
            partial = part if part.remaining > 0 else None
            if partial is None:
                out.append(part)
        if partial is not None:
            out.append(partial)  # reads ran out mid-datagram: remaining > 0 tells the caller
        return out

    def _nsorf(self, sock):
        reply = self.engine.command(sockets.receive(sock, self._read_max), "", 2000)
        if reply.result == RESULT_TIMEOUT:
            raise ModemError("AT+NSORF: no answer", reply)
        return sockets.parse_nsorf(reply.lines[0]) if reply.ok and reply.lines else None

    # -- URCs (record state only) ---------------------------------------------------------

    def _register_urcs(self):
        on = self.engine.on_urc
        on(cereg.PREFIX, self._urc_cereg)
        on(cscon.PREFIX, self._urc_cscon)
        on("+NPSMR:", self._urc_npsmr)
        on("+CEDRXP:", lambda line, data: _pw.on_cedrxp(self, line))
        on(sockets.NSONMI, self._urc_nsonmi)
        on(sockets.NSOCLI, self._urc_nsocli)
        on("REBOOT_CAUSE_", self._urc_banner)
        on("Neul", base.ignore)
        for prefix in BOOT_NOISE:
            on(prefix, base.ignore)

    def _urc_cereg(self, line, data):
        self._on_reg(cereg.parse(line))

    def _urc_cscon(self, line, data):
        mode = cscon.parse(line)
        if mode is None:
            return
        self.rrc = mode
        self.lifecycle.event(lc.EV_RRC_CONNECTED if mode else lc.EV_RRC_IDLE)

    def _urc_npsmr(self, line, data):
        value = line[7:].strip()
        if value in ("0", "1"):
            self.lifecycle.event(lc.EV_PSM_ENTER if value == "1" else lc.EV_PSM_EXIT)

    def _urc_nsonmi(self, line, data):
        dg = sockets.parse_nsonmi(line)
        if dg is None:
            return
        if dg.data is None:
            self._pending[dg.sock] = self._pending.get(dg.sock, 0) + 1
        else:
            self._push(dg.sock, dg)

    def _urc_nsocli(self, line, data):
        sock = sockets.parse_nsocli(line)
        if sock is not None:
            self._mark_closed(sock)

    def _urc_banner(self, line, data):
        self.boot_cause = line
        self._pending = {}
        self._rebooted()
