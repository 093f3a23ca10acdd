# Quectel BC660K-GL (NB-IoT, 3GPP Rel-14, the BC95/BC28 successor) modem profile (MIT licence).
# What differs from the other QI-stack modules (nbkit.modem.ec200, on nbkit.modem.base):
#   * sockets on PDP context 0, the default bearer that comes with the attach: there is no
#     AT+QIACT; the APN is the default PDN's, AT+QCGDEFCONT="IP","<apn>" (before CFUN=1);
#   * sockets in buffer access mode: "+QIURC: "recv",<id>" then AT+QIRD=<id>,<len>, the data in
#     hex (AT+QICFG="dataformat",0,1) and quoted: "+QIRD: <n>" then "<2n hex digits>" (parser
#     nbkit.lte.qi.parse_qird_hex). No payload ever arrives unasked and none is read by count:
#     a CR, LF or "OK" in the data cannot break the line framing, a cut read is a clear error;
#   * PSM requested before attach (AT+CPSMS=1,,,"<T3412>","<T3324>"), the grant read from
#     +CEREG n=4; +QNBIOTEVENT: "ENTER PSM" / "EXIT PSM" (AT+QNBIOTEVENT=1,1) move the
#     lifecycle; +CSCON (AT+CSCON=1) the RRC state;
#   * sleep: AT+QSCLK=1 allows light and deep sleep (0 none, 2 light only); an AT command on the
#     main UART wakes it from deep sleep and is lost (Hardware Design §3.4.2: the wake probe
#     repeats "AT"); with AT+QATWAKEUP=1 it then reports "+QATWAKEUP"; boot and reset
#     (AT+QRST=1) end with "RDY". The UART sleeps too while sleep is allowed, so once the module
#     answers the driver sends AT+QSCLK=0 and sleep() allows it again after the session (the
#     manual's AT+QSCLK notes 1 and 3).
# Sources: Quectel BC660K-GL&BC950K-GL AT Commands Manual V1.4 (2024-01-26: AT+QNBIOTEVENT
# <enable>,<event> with "ENTER PSM"/"EXIT PSM", AT+QSCLK and its notes, AT+CPSMS, AT+QNBIOTRAI,
# AT+QCFG="dsevent"), V1.0 (2021-01-27) and the TCP/IP Application Note
# V1.1 (command names and forms above; the QIRD/QIURC layouts follow the QI family as in the
# BG95/BG96 TCP/IP notes); R4sp1/Quectel-BC660 (Arduino driver: AT+QIOPEN=0,<id>,"UDP",...,
# AT+QCGDEFCONT, AT+QSCLK=0/1/2, the "AT" wake, "Revision: BC660KGLAAR01A01"); Renode's
# Quectel_BC660K model (RDY at power-on, '>' prompt, SEND OK, +QIOPEN: <id>,0); BC660K-GL
# Hardware Design §3.4 (deep sleep 800 nA, the lost waking command); XinYi BC25/BC260Y-class
# firmware sources (AT+QATWAKEUP=<0-1>, "+QATWAKEUP" after a deep-sleep wake, the DEEPSLEEP
# event texts); a real module's answers in markbac/quectel-bc660k-dashboard tests/transcripts/
# bc660k_real_2026-10-03.jsonl (context 0 default PDN, +CPSMS/+CEREG n=4 layouts, QNBIOTEVENT=1,1
# and QCFG="dsevent",1 answered OK, no OK to the first AT after a sleep). Not seen from a module:
# the text of the +QNBIOTEVENT URCs themselves.
#
# Public API: that of Ec200 (attach, open/send/recv/close, resume, sleep, power_down, granted,
# identity, signal, poll, idle) plus reboot() and .wakeups (+QATWAKEUP seen).
from micropython import const

from nbkit.lte import cereg, psm, qi
from nbkit.modem import bc95_power as _pw
from nbkit.modem import lifecycle as lc
from nbkit.modem import models
from nbkit.modem.ec200 import Ec200, ModemError  # noqa: F401  (raised by the socket calls)

_REBOOT_WAIT_MS = const(10000)  # AT+QRST=1 to RDY
_NUDGE_MS = const(100)  # the "AT" that wakes a deep-sleeping module is lost: wait no longer
_CFUN_MS = const(15000)

# +QNBIOTEVENT: "ENTER PSM" | "EXIT PSM"
NBIOTEVENT = "+QNBIOTEVENT:"
_DSEVENT = 'AT+QCFG="dsevent",1'
_HEX_RX = 'AT+QICFG="dataformat",0,1'  # send as given (data mode), receive in hex
_READS_MAX = const(8)  # AT+QIRD calls per recv()
WAKEUP = "+QATWAKEUP"


class Bc660k(Ec200):
    MODELS = models.driven_by("Bc660k")
    CONTEXT = 0
    OPEN_MODE = qi.MODE_BUFFER
    SEND_MAX = 1024  # assumption: <send_length> limit of AT+QISEND on BC660K (BC26: 1024)
    IGNORED = ("+CPIN:", "+CFUN:", "+CPSMS:", "+CEDRXP:")
    # AT+CGSN=1 -> "+CGSN: <imei>", AT+CIMI, AT+QCCID, AT+CGMR -> "Revision: BC660KGL..." (the
    # commands a real module answered in the transcript cited above)
    IDENT = "BC660K"  # nbkit.lte.ident.BC660K

    def __init__(self, engine, clock, apn="", *, model="bc660k", psm=None, cereg_n=2, **kw):
        # psm: None or (tau_s, active_s), requested with AT+CPSMS before attach.
        self.psm_commands = []
        self.psm_requested = None
        if psm is not None:
            cmd, tau_got, active_got = _psm_request(psm)
            self.psm_commands.append(cmd)
            self.psm_requested = (tau_got, active_got)
            cereg_n = max(cereg_n, 4)  # +CEREG n=4 carries the granted timers
        super().__init__(engine, clock, apn, model=model, cereg_n=cereg_n, **kw)
        self.rrc = None
        self.wakeups = 0

    # -- what differs at attach -------------------------------------------------------------

    def _optional_commands(self):
        # CEREG=n, CSCON=1, QNBIOTEVENT=1,1 (PSM events), QCFG="dsevent",1 (deep-sleep events),
        # QATWAKEUP=1, then the PSM request (before CFUN=1).
        out = [cereg.set_cmd(self.cereg_n), "AT+CSCON=1", "AT+QNBIOTEVENT=1,1"]
        out += [_DSEVENT, "AT+QATWAKEUP=1", _HEX_RX]
        return out + self.psm_commands

    def _apn_cmd(self):
        return 'AT+QCGDEFCONT="IP","%s"' % self.apn

    def _probe(self):
        # "AT" until OK, then AT+QSCLK=0: no sleep (and no sleeping UART) during the session.
        return super()._probe() and self._awake()

    def _awake(self):
        if not self.engine.command("AT+QSCLK=0", None, 300).ok:
            self._unsupported("AT+QSCLK=0")
        self.asleep = False
        return True

    def _registered_now(self):
        # AT+CEREG? only (no CGREG on NB-IoT) -> registered (home or roaming)
        reply = self.engine.command("AT+CEREG?", cereg.PREFIX, 1000)
        reg = cereg.parse(reply.lines[0], read=True) if reply.ok and reply.lines else None
        self._on_reg(reg)
        return reg is not None and reg.registered

    def _activate(self):
        # The default bearer (context 0) comes with the attach: no AT+QIACT on this module.
        self.pdp_active = True
        return True

    def _read_all(self, sock):
        # AT+QIRD until "+QIRD: 0" (the module reports no new "recv" while data is left), at
        # most _READS_MAX reads of what one line can carry in hex.
        if sock in self._pending:
            self._pending.remove(sock)
        size = min(self.SEND_MAX, (self.engine.line_max - 16) // 2)
        out = []
        for _ in range(_READS_MAX):
            reply = self.engine.command(qi.qird(sock, size), (qi.QIRD, '"'), 2000)
            if not reply.ok:
                raise ModemError("AT+QIRD=%d: %s" % (sock, self._why(reply)), reply, reply.cme)
            try:
                data = qi.parse_qird_hex(reply.lines)
            except ValueError as exc:
                raise ModemError("AT+QIRD=%d: %s" % (sock, exc), reply) from None
            if not data:
                break
            out.append(data)
        return out

    def reboot(self):
        # AT+QRST=1: OK, then "RDY" when the module is back; then AT probes.
        self.lifecycle.event(lc.EV_POWER_ON)
        boots = self.boots
        self.engine.command("AT+QRST=1", None, 300)
        self._wait(lambda: self.boots != boots, _REBOOT_WAIT_MS)
        return self._probe()

    # -- power ------------------------------------------------------------------------------

    def granted(self):
        # (psm_granted, active_s, tau_s) from AT+CEREG? n=4 (or the last +CEREG URC).
        return self._counted(_pw.granted, self)

    def _resume(self):
        # After an MCU deep sleep: probe (wakes the module), AT+CEREG?; registered with our n
        # -> online with no re-attach (the default bearer is kept in PSM). Else False: attach.
        self.engine.command("AT", None, _NUDGE_MS)  # wakes it from deep sleep (lost if asleep)
        if not _pw.resume(self, self._awake):
            return False
        self.pdp_active = True
        return True

    def sleep(self):
        # AT+QSCLK=1: light and deep sleep allowed; the next AT command wakes the module.
        ok = self.engine.command("AT+QSCLK=1", None, 300).ok
        self.asleep = ok
        if not ok:
            self.last_error = "AT+QSCLK=1 refused"
        return ok

    def power_down(self):
        ok = self.engine.command("AT+CFUN=0", None, _CFUN_MS).ok
        if ok:
            self.pdp_active = False
            self.lifecycle.event(lc.EV_POWER_OFF)
        else:
            self.last_error = "AT+CFUN=0 refused"
        return ok

    # -- URCs (record state only) -----------------------------------------------------------

    def _register_urcs(self):
        super()._register_urcs()
        on = self.engine.on_urc
        on(NBIOTEVENT, self._urc_nbiotevent)
        on(WAKEUP, self._urc_wakeup)
        on("+CSCON:", self._urc_cscon)

    def _on_recv(self, urc, data):
        # Buffer mode only: '+QIURC: "recv",id[,len]' (the length shown or not) means "read it".
        if urc.sock not in self._pending:
            self._pending.append(urc.sock)

    def _urc_nbiotevent(self, line, data):
        # "ENTER PSM" / "EXIT PSM" (event type 1); XinYi-based firmware also prints
        # "ENTER DEEPSLEEP" / "EXIT DEEPSLEEP" for the module's own sleep. Others are ignored.
        event = line[len(NBIOTEVENT) :].strip().strip('"')
        if event == "ENTER PSM":
            self.lifecycle.event(lc.EV_PSM_ENTER)
        elif event == "EXIT PSM":
            self.lifecycle.event(lc.EV_PSM_EXIT)
        elif event == "ENTER DEEPSLEEP":
            self.asleep = True
        elif event == "EXIT DEEPSLEEP":
            self.asleep = False

    def _urc_wakeup(self, line, data):
        self.wakeups += 1
        self.asleep = False

    def _urc_cscon(self, line, data):
        # +CSCON: <mode> (URC) or +CSCON: <n>,<mode> (read): the last field is the mode.
        value = line[7:].strip().split(",")[-1].strip()
        if value in ("0", "1"):
            self.rrc = int(value)
            self.lifecycle.event(lc.EV_RRC_CONNECTED if self.rrc else lc.EV_RRC_IDLE)


def _psm_request(req):
    try:
        tau_s, active_s = req
        return psm.request(tau_s, active_s)
    except (TypeError, ValueError) as exc:
        why = "psm must be (tau_s, active_s) the 3GPP timers encode: %s" % exc
        raise ValueError(why) from None
