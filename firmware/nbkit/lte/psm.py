# PSM (Power Saving Mode): AT+CPSMS command builder, +CPSMS read parser and the grant read from
# +CEREG n=4/5. Pure: no I/O. Request PSM BEFORE attach; schedule by the GRANTED values only.
from nbkit.lte import timers
from nbkit.lte.fields import int_field, split_fields, text

CPSMS_OFF = "AT+CPSMS=0"
CPSMS_READ = "AT+CPSMS?"


# AT+CPSMS=1,,,"<Requested_Periodic-TAU>","<Requested_Active-Time>" from 8-bit strings.
def cpsms_cmd(tau_bits, active_bits):
    timers.decode_t3412(tau_bits)  # validates: ValueError on a malformed string
    timers.decode_t3324(active_bits)
    return 'AT+CPSMS=1,,,"%s","%s"' % (tau_bits, active_bits)


# Seconds -> (command, tau obtained s, active time obtained s), both rounded up by the codecs.
def request(tau_s, active_s):
    tau_bits, tau_got = timers.encode_t3412(tau_s)
    active_bits, active_got = timers.encode_t3324(active_s)
    return cpsms_cmd(tau_bits, active_bits), tau_got, active_got


# +CPSMS: <mode>,[<Requested_Periodic-RAU>],[<Requested_GPRS-READY-timer>],
#         [<Requested_Periodic-TAU>],[<Requested_Active-Time>]
# e.g. +CPSMS:1,,,"01000111","00000101" -> (1, "01000111", "00000101"); absent -> None
def parse_cpsms(line):
    f = split_fields(line, "+CPSMS:")
    mode = int_field(f, 0, "+CPSMS")
    tau = text(f, 3)
    active = text(f, 4)
    if tau is not None:
        timers.decode_t3412(tau)
    if active is not None:
        timers.decode_t3324(active)
    return mode, tau, active


# The PSM grant from the two last fields of +CEREG n=4/5 (8-bit strings, quotes stripped):
#   +CEREG: <stat>[,[<tac>],[<ci>],[<AcT>][,,[,[<Active-Time>],[<Periodic-TAU>]]]]
# -> (granted, active_s, tau_s). Denied (no PSM) when Active-Time is absent or its unit is 111.
# tau_s None with PSM granted means the network did not send T3412-ext (legacy T3412 applies).
def grant(active_bits, tau_bits):
    active_s = timers.decode_t3324(active_bits) if active_bits else None
    tau_s = timers.decode_t3412(tau_bits) if tau_bits else None
    return active_s is not None, active_s, tau_s


# What to do about the registration after a wake from PSM (the modem drivers' resume and the
# application, re-exported by app.power; here, not in app, so the modem layer never imports app)
SEND = "send"  # registered: send right away, no attach
WAIT = "wait"  # the modem is searching by itself: give it time, do not restart the search
ATTACH = "attach"  # registration really lost (or modem powered down): attach again
BACKOFF = "backoff"  # registration denied: an attach now would be denied again


# +CEREG <stat>: 0 not registered and not searching, 1 home, 2 searching, 3 denied,
# 4 unknown (e.g. out of coverage), 5 roaming. searching_s: how long stat has been 2/4.
def registration_action(stat, searching_s=0, search_limit_s=120, powered_down=False):
    if powered_down:
        return ATTACH
    if stat in (1, 5):
        return SEND
    if stat in (2, 4):
        return WAIT if searching_s < search_limit_s else ATTACH
    if stat == 3:
        return BACKOFF
    return ATTACH
