# What to do about a registration status after a wake (MIT licence): a pure decision used by the
# modem drivers (bc95_power.resume) and the application (re-exported by app.power). Kept in lte,
# not app, so the modem layer never imports app.

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
