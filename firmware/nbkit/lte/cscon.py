# Signalling connection status, AT+CSCON (3GPP TS 27.007 §10.1.30) (MIT licence).
from nbkit.lte.fields import body, num, split

PREFIX = "+CSCON:"
SET_URC = "AT+CSCON=1"  # report +CSCON:<mode> on every RRC change
MODE_IDLE = 0
MODE_CONNECTED = 1


# URC:  +CSCON:<mode>                      mode 0 idle, 1 connected (RRC)
# read: +CSCON:<n>,<mode>[,<state>[,<access>]]
# Returns mode (int) or None.
def parse(line, read=False):
    rest = body(line, PREFIX)
    if rest is None:
        return None
    return num(split(rest), 1 if read else 0)
