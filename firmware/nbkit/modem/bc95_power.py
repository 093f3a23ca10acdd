# BC95/BC28 power features: what Bc95's power methods do (MIT licence). Kept out of bc95.py so the
# socket/attach driver and the power path change independently. Every function takes the Bc95.
#
#   plan(psm, edrx) -> (commands, psm_requested, edrx_requested)   checked at construction
#     psm = None | (tau_s, active_s)        -> AT+CPSMS=1,,,"<T3412-ext>","<T3324>"
#     edrx = None | cycle_ms | (cycle_ms, ptw_ms) -> AT+CEDRXS=2,5,"<eDRX>" | AT+NPTWEDRXS=2,5,...
#     (None leaves the module's stored setting alone; values are rounded UP to encodable ones)
#   request(m) -> [refused commands]        sent by Bc95._configure, i.e. BEFORE CFUN=1/CGATT=1
#   granted(m) -> (psm_granted, active_s, tau_s)   what the network GRANTED (+CEREG n=4/5)
#   edrx_granted(m) -> (cycle_ms, ptw_ms) | None   AT+CEDRXRDP (the network's value, not ours)
#   resume(m) -> bool    after an MCU deep sleep with the modem in PSM/idle (see resume below)
#   power_down(m) -> bool   AT+CFUN=0: the "PSM denied" fallback; the next report attaches
# nbkit.lte.edrx is imported by the eDRX calls only: a meter that asks no eDRX never loads it.
#   ask_edrx(m, cycle_s) -> bool   AT+CEDRXS=2,5,"<eDRX>" while registered (sent in a TAU): the
#     other "PSM denied" fallback, registered in eDRX (nbkit.app.power.when_psm_denied)
from micropython import const

from nbkit.at import chat
from nbkit.lte import cereg, psm
from nbkit.modem import lifecycle as lc

_WAKE_TRIES = const(6)  # "AT" probes after a wake: a module leaving PSM may lose the first bytes
_WAKE_TIMEOUT_MS = const(300)
_WAKE_GAP_MS = const(100)
_SEARCH_WAIT_MS = const(60000)  # stat 2/4 at resume: the module searches by itself; wait this long
_CFUN0_MS = const(10000)  # AT+CFUN=0 detaches first (signalling over the air)


def plan(psm_req, edrx_req):
    # -> (commands, (tau_s, active_s) obtained or None, eDRX cycle ms obtained or None)
    cmds = []
    psm_got = None
    edrx_got = None
    if psm_req is not None:
        tau_s, active_s = psm_req
        cmd, tau_got, active_got = psm.request(tau_s, active_s)
        cmds.append(cmd)
        psm_got = (tau_got, active_got)
    if edrx_req is not None:
        from nbkit.lte import edrx

        if isinstance(edrx_req, tuple):
            cmd, edrx_got, _ptw = edrx.request_with_ptw(edrx_req[0] / 1000, edrx_req[1] / 1000)
        else:
            cmd, edrx_got = edrx.request(edrx_req / 1000)
        cmds.append(cmd)
    return cmds, psm_got, edrx_got


def request(m):
    # The PSM/eDRX requests, after the URC settings (CEREG=4 shows the grant) and before attach.
    steps = tuple((cmd, None, 1000) for cmd in m.power_commands)
    if not steps:
        return []
    return chat.run_each(m.engine, chat.Script("bc95_power", steps, attempts=2, retry_ms=300))


def read_reg(m, feed=True):
    # AT+CEREG? (answered by the module, nothing goes over the air) -> cereg.Reg or None
    reply = m.engine.command("AT+CEREG?", cereg.PREFIX, 1000)
    if not (reply.ok and reply.lines):
        return None
    reg = cereg.parse(reply.lines[0], read=True)
    if feed:
        m._on_reg(reg)
    return reg


def granted(m):
    # The PSM timers the network granted, from the read form (fresh) or the last +CEREG URC.
    reg = read_reg(m) or m.reg
    if reg is None or not reg.registered:
        return False, None, None
    return psm.grant(reg.active_time, reg.periodic_tau)


def edrx_granted(m):
    from nbkit.lte import edrx

    reply = m.engine.command(edrx.CEDRXRDP, "+CEDRXRDP:", 1000)
    if reply.ok and reply.lines:
        try:
            m.edrx_nw = edrx.granted(edrx.parse_cedrxrdp(reply.lines[0]))
        except ValueError:
            m.edrx_nw = None
    return m.edrx_nw


def on_cedrxp(m, line):
    # +CEDRXP URC (CEDRXS mode 2): the network's eDRX value changed.
    from nbkit.lte import edrx

    try:
        m.edrx_nw = edrx.granted(edrx.parse_cedrxp(line))
    except ValueError:
        pass


def _wake_probe(m):
    # "AT" until OK; a module leaving PSM on UART activity may drop the first characters.
    for attempt in range(_WAKE_TRIES):
        if attempt:
            m.engine.idle(_WAKE_GAP_MS)
        if m.engine.command("AT", None, _WAKE_TIMEOUT_MS).ok:
            return True
    return False


# After an MCU deep sleep (new process: lifecycle OFF) with the modem left in PSM or idle:
# probe, then AT+CEREG?. Registered (stat 1/5): online, True, with no configuration and no
# CFUN/CGATT: the next uplink wakes the radio. Searching (2/4): the module is already searching;
# wait for it (bounded) instead of restarting the search. Not registered (0, after CFUN=0) or
# denied (3): False and last_error; the caller attaches (attach() re-runs everything). A read
# form whose <n> is not ours means the module rebooted (or was never configured) while the MCU
# slept: its settings and PSM request are gone, so False too, even if it registered by itself.
# awake(m) -> bool: what to send once the module answers (BC660K: AT+QSCLK=0), or None.
def resume(m, awake=None):
    lcy = m.lifecycle
    if not lcy.online:
        lcy.event(lc.EV_POWER_ON)
    if not _wake_probe(m) or (awake is not None and not awake()):
        return m._failed("no answer to AT after wake")
    lcy.event(lc.EV_BOOTED)
    reg = read_reg(m, feed=False)
    if reg is None:
        return m._failed("AT+CEREG? unanswered after wake")
    if reg.n is not None and reg.n != m.cereg_n:
        m.last_error = "module not configured (CEREG n=%d): rebooted while asleep" % reg.n
        return False
    m._on_reg(reg)
    action = psm.registration_action(reg.stat)
    if action == psm.SEND:
        return True
    if action == psm.WAIT and m._wait_registered(_SEARCH_WAIT_MS):
        return True
    m.last_error = "%s after wake (stat %s)" % (action, reg.stat)
    return False


def ask_edrx(m, cycle_s):
    # The eDRX request while registered; the module sends it to the network in a TAU.
    from nbkit.lte import edrx

    cmd, _got = edrx.request(cycle_s)
    if m.engine.command(cmd, None, 1000).ok:
        return True
    m.last_error = "%s refused" % cmd
    return False


def power_down(m):
    # AT+CFUN=0: detach and radio off (the fallback when PSM is denied). The lifecycle goes off;
    # after the MCU sleep, resume() reads stat 0 and the caller attaches again.
    ok = m.engine.command("AT+CFUN=0", None, _CFUN0_MS).ok
    if ok:
        m.lifecycle.event(lc.EV_POWER_OFF)
    else:
        m.last_error = "AT+CFUN=0 refused"
    return ok
