# Modem power policy, as pure decisions the modem driver and the application act on:
#  * after a report: let the modem enter PSM when the network granted it, else the configured
#    fallback ("cfun0": AT+CFUN=0 / power the modem down and wake by RTC; "stay": idle at DRX;
#    "auto": whichever the energy figures say is cheaper for the report interval);
#  * PsmWatch: was PSM really entered (+CSCON:0 then +NPSMR:1 within T3324 + margin)?
#  * re-attach only when registration was really lost (+CEREG stat), never on every wake;
#  * the AT commands of one report after a wake, marking which ones go over the air.
from nbkit.lte import edrx as _edrx
from nbkit.lte import psm as _psm
from nbkit.lte import rai as _rai

# registration decisions (SEND/WAIT/ATTACH/BACKOFF, registration_action) live in nbkit.lte.psm:
# the modem drivers use them too and never import app; re-exported here
from nbkit.lte.psm import ATTACH, BACKOFF, SEND, WAIT, registration_action  # noqa: F401

FALLBACK_CFUN0 = "cfun0"
FALLBACK_STAY = "stay"
FALLBACK_AUTO = "auto"
FALLBACKS = (FALLBACK_CFUN0, FALLBACK_STAY, FALLBACK_AUTO)

ACTION_PSM = "psm"  # wait for +NPSMR:1; the modem sleeps by itself
ACTION_CFUN0 = "cfun0"  # send AT+CFUN=0 (or cut the supply); next report re-attaches
ACTION_STAY = "stay"  # stay registered in idle DRX/eDRX


# Energy defaults for "auto" (host_tools/energy profiles, bc95 at CE0): idle DRX current and the
# charge of one power-up + attach. Override from configuration with measured figures.
IDLE_DRX_MA = 0.4
ATTACH_MAH = 0.3
PSM_FLOOR_MA = 0.003  # the module between eDRX paging windows (BC95-G '3 uA @PSM')
# A registered UE sends a periodic TAU every T3412; without PSM the network gives the plain
# T3412 (3GPP TS 24.008 default 54 min). One TAU: RRC setup, the TAU, release after it (RAI).
T3412_S = 3240
TAU_MAH = 0.04
# PSM denied: the eDRX cycle to ask for (NB-S1 "1101"), so that staying registered between
# reports costs paging windows this far apart rather than idle DRX all along. All a meter's
# traffic starts on the device: a downlink may wait for the window, an uplink never waits.
EDRX_ASK_S = 2621.44


# The power requests to send BEFORE attach (some networks ignore timer changes sent later), with
# the URCs that report what was granted (+CEREG n=4 carries the granted T3324/T3412, +CSCON the
# RRC state, +NPSMR PSM entry). -> (commands, tau obtained s, active obtained s, eDRX ms or None)
def pre_attach_commands(tau_s, active_s, edrx_s=None, ptw_s=None):
    cmd, tau_got, active_got = _psm.request(tau_s, active_s)
    cmds = ["AT+CEREG=4", "AT+CSCON=1", "AT+NPSMR=1", cmd]
    edrx_ms = None
    if edrx_s is None:
        cmds.append(_edrx.cedrxs_off())
    elif ptw_s is None:
        edrx_cmd, edrx_ms = _edrx.request(edrx_s)
        cmds.append(edrx_cmd)
    else:
        edrx_cmd, edrx_ms, _ptw_ms = _edrx.request_with_ptw(edrx_s, ptw_s)
        cmds.append(edrx_cmd)
    return cmds, tau_got, active_got, edrx_ms


def check_fallback(value):
    if value not in FALLBACKS:
        raise ValueError("PSM fallback must be one of %s, got %r" % (", ".join(FALLBACKS), value))
    return value


# Charge (mAh) of staying registered for report_s: idle DRX, or with edrx = (cycle ms, PTW ms or
# None) granted the DRX current for the window's share of each cycle, plus the periodic TAUs.
def stay_mah(report_s, idle_ma=IDLE_DRX_MA, edrx=None):
    ma = idle_ma
    if edrx:
        cycle_ms, ptw_ms = edrx
        ma = idle_ma * min(1, (ptw_ms or 10240) / cycle_ms) + PSM_FLOOR_MA
    return ma * report_s / 3600 + TAU_MAH * report_s / T3412_S


# "auto": powering down costs one attach per report, staying costs idle current all interval.
def cheaper_fallback(report_s, idle_ma=IDLE_DRX_MA, attach_mah=ATTACH_MAH, edrx=None):
    return ACTION_CFUN0 if stay_mah(report_s, idle_ma, edrx) > attach_mah else ACTION_STAY


# What to do with the modem once the report is done, from the grant (psm.grant()); edrx: the
# eDRX the network granted, (cycle ms, PTW ms or None), or None.
def after_report(psm_granted, fallback, report_s=0, edrx=None):
    check_fallback(fallback)
    if psm_granted:
        return ACTION_PSM
    if fallback == FALLBACK_AUTO:
        return cheaper_fallback(report_s, edrx=edrx)
    return fallback


# The network denied PSM (fallback "auto"): ask for eDRX if the network has not granted it yet
# (the module sends the request in a TAU), then choose by what is granted. modem: a driver
# with edrx_granted() and ask_edrx(cycle_s) (nbkit.modem.bc95); others choose without eDRX.
def when_psm_denied(modem, fallback, report_s):
    if fallback != FALLBACK_AUTO or not hasattr(modem, "ask_edrx"):
        return after_report(False, fallback, report_s)
    granted = modem.edrx_granted()
    if not granted and modem.ask_edrx(EDRX_ASK_S):
        granted = modem.edrx_granted()
    return after_report(False, fallback, report_s, granted)


# From the PSM fields of +CEREG n=4 straight to the action.
def after_report_from_cereg(active_bits, tau_bits, fallback, report_s=0):
    return after_report(_psm.grant(active_bits, tau_bits)[0], fallback, report_s)


# The AT commands of one report after a wake, as (command, goes_over_the_air). After a wake from
# PSM with the registration kept and the socket open, only the NSOSTF reaches the air: the AT
# probe and AT+CEREG? are answered by the module, AT+NSORF reads a reply already received.
def report_plan(action, socket_open=True, expect_reply=False):
    plan = [("AT", False), ("AT+CEREG?", False)]
    if action == ATTACH:
        plan.append(("AT+CFUN=1", True))
        plan.append(("AT+CGATT=1", True))
        socket_open = False
    elif action != SEND:
        return plan
    if not socket_open:
        plan.append(("AT+NSOCR", False))
    flag = _rai.flag_text(_rai.nsostf_flag(True, expect_reply))
    plan.append(("AT+NSOSTF=<s>,<ip>,<port>," + flag + ",<len>,<hex>", True))
    if expect_reply:
        plan.append(("AT+NSORF", False))
    return plan


def air_commands(plan):
    return sum(1 for _cmd, air in plan if air)


_UNKNOWN = "unknown"
CONNECTED = "connected"  # +CSCON:1
IDLE = "idle"  # +CSCON:0: T3324 runs
PSM = "psm"  # +NPSMR:1
AWAKE = "awake"  # +NPSMR:0


class PsmWatch:
    # Fed every URC line; tells whether PSM was really entered: +CSCON:0 starts the active timer
    # (T3324 granted); +NPSMR:1 must follow within T3324 + margin_s, else missed() is True and
    # the fallback applies. +CSCON:1 starts over.
    def __init__(self, clock, active_s=None, margin_s=10):
        self.clock = clock
        self.active_s = active_s
        self.margin_s = margin_s
        self.state = _UNKNOWN
        self.idle_since = None

    def set_active_time(self, active_s):
        self.active_s = active_s

    # -> True when the line was a +CSCON/+NPSMR URC (consumed), else False
    def feed(self, line):
        if isinstance(line, (bytes, bytearray)):
            line = line.decode()
        line = line.strip()
        if line.startswith("+CSCON:"):
            value = line[7:].split(",")[-1].strip()
            if value == "1":
                self.state, self.idle_since = CONNECTED, None
            elif value == "0":
                self.state, self.idle_since = IDLE, self.clock.ticks_ms()
            return True
        if line.startswith("+NPSMR:"):
            value = line[7:].strip()
            if value == "1":
                self.state, self.idle_since = PSM, None
            elif value == "0":
                self.state = AWAKE
            return True
        return False

    def in_psm(self):
        return self.state == PSM

    # True when idle for longer than T3324 + margin without +NPSMR:1 (or PSM not granted at all)
    def missed(self):
        if self.state != IDLE:
            return False
        if self.active_s is None:
            return True
        waited = self.clock.ticks_diff(self.clock.ticks_ms(), self.idle_since)
        return waited > (self.active_s + self.margin_s) * 1000
