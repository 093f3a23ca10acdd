# EPS network registration status, AT+CEREG (3GPP TS 27.007 §10.1.22) (MIT licence).
from nbkit.lte.fields import body, num, split, text

PREFIX = "+CEREG:"

# <stat>
STAT_NOT_SEARCHING = 0
STAT_HOME = 1
STAT_SEARCHING = 2
STAT_DENIED = 3
STAT_UNKNOWN = 4
STAT_ROAMING = 5
STAT_NAMES = {
    0: "not-searching",
    1: "home",
    2: "searching",
    3: "denied",
    4: "unknown",
    5: "roaming",
}

ACT_NB_S1 = 9  # E-UTRAN NB-S1 (NB-IoT); 7 = E-UTRAN (Cat-M / Cat1)


def set_cmd(n):
    # AT+CEREG=<n>, n 0..5: 0 no URC, 1 stat, 2 + tac/ci/AcT, 3 + cause,
    # 4 + Active-Time/Periodic-TAU with empty cause fields, 5 everything.
    if not 0 <= n <= 5:
        raise ValueError("CEREG n must be 0..5")
    return "AT+CEREG=%d" % n


class Reg:
    # One parsed +CEREG: n (read form only, else None), stat, tac and ci (ints), act,
    # cause_type, reject_cause, active_time and periodic_tau (8-char bit strings, as sent).

    def __init__(self):
        self.n = None
        self.stat = None
        self.tac = None
        self.ci = None
        self.act = None
        self.cause_type = None
        self.reject_cause = None
        self.active_time = None
        self.periodic_tau = None

    @property
    def registered(self):
        return self.stat in (STAT_HOME, STAT_ROAMING)

    def __repr__(self):
        return "<Reg stat=%s tac=%s ci=%s act=%s t3324=%s t3412=%s>" % (
            self.stat,
            self.tac,
            self.ci,
            self.act,
            self.active_time,
            self.periodic_tau,
        )


# URC:  +CEREG:<stat>[,[<tac>],[<ci>],[<AcT>][,[<cause_type>],[<reject_cause>]
#                    [,[<Active-Time>],[<Periodic-TAU>]]]]
# read: +CEREG:<n>,<stat>[, ...the same fields as the URC...]
# Huawei: "+CEREG:0,0000,00000000,9" (no space, tac/ci unquoted); 27.007 / u-blox / Quectel MTK:
# '+CEREG: 2,1,"3a9b","0000c33d",7'; n=4 read: '+CEREG: 4,1,"0000","00000000",9,,,"00100100",
# "01000111"'. tac/ci are hex; missing trailing fields are None.
def parse(line, read=False):
    rest = body(line, PREFIX)
    if rest is None:
        return None
    f = split(rest)
    reg = Reg()
    k = 0
    if read:
        reg.n = num(f, 0)
        k = 1
    reg.stat = num(f, k)
    if reg.stat is None:
        return None
    reg.tac = num(f, k + 1, 16)
    reg.ci = num(f, k + 2, 16)
    reg.act = num(f, k + 3)
    reg.cause_type = num(f, k + 4)
    reg.reject_cause = num(f, k + 5)
    reg.active_time = _bits(text(f, k + 6))
    reg.periodic_tau = _bits(text(f, k + 7))
    return reg


def _bits(value):
    # An 8-character bit string, or None for anything else.
    if value is None or len(value) != 8:
        return None
    for ch in value:
        if ch not in "01":
            return None
    return value
