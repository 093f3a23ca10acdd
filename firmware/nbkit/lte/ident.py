# Module and SIM identity: IMEI, IMSI, ICCID, firmware, PDP address (MIT licence).
from nbkit.lte.fields import body, num, split, text

CGSN = "AT+CGSN=1"  # IMEI with a prefix (AT+CGSN alone answers a bare line)
CIMI = "AT+CIMI"
NCCID = "AT+NCCID"
CGMR = "AT+CGMR"
CGPADDR = "AT+CGPADDR"


# +CGSN:867726031076062   (AT+CGSN=1)   or the bare "867726031076062" (AT+CGSN)
def imei(line):
    rest = body(line, "+CGSN:")
    value = (rest if rest is not None else line).strip('" ')
    return value if _digits(value, 14, 17) else None


# 460111175090234        (AT+CIMI, a bare line of 6..15 digits)
def imsi(line):
    value = line.strip()
    return value if _digits(value, 6, 15) else None


# +NCCID:89860317452040014000   (some firmware: AT+NCCID?; a trailing F is allowed)
def iccid(line):
    rest = body(line, "+NCCID:")
    if rest is None:
        return None
    value = rest.strip('" ')
    return value if 18 <= len(value) <= 22 else None


# Huawei firmware, one line per component, then OK:
#   SSB,V150R100C10B200SP1 / SECURITY_A,V150R100C20B300SP2 / ... / RADIO,Hi2115_RF1
# Other firmware: one bare line ("Revision: BC95GJBR01A04" or "+CGMR:..."). Returns
# {component: version}; a line without a comma goes under "".
def firmware(lines):
    out = {}
    for line in lines:
        if "," in line:
            key, value = line.split(",", 1)
            out[key.strip()] = value.strip()
        elif line:
            out[""] = line.strip()
    return out


# Quectel QI firmware (EC200/BC26): +QCCID: 89860...   (quoted or not)
def qccid(line):
    rest = body(line, "+QCCID:")
    value = rest.strip('" ') if rest is not None else ""
    return value or None


def _first(parse):
    return lambda lines: parse(lines[0]) if lines else None


# The identity dialogs of each firmware family: (field, command, expected prefix, parse(lines)).
HUAWEI = (
    ("imei", CGSN, "+CGSN:", _first(imei)),
    ("imsi", CIMI, "", _first(imsi)),
    ("iccid", NCCID, "+NCCID:", _first(iccid)),
    ("firmware", CGMR, "", firmware),
)
QUECTEL = (
    ("imei", "AT+GSN", "", _first(imei)),
    ("imsi", CIMI, "", _first(imsi)),
    ("iccid", "AT+QCCID", "+QCCID:", _first(qccid)),
    ("firmware", "AT+GMR", "", firmware),
)


# BC660K: the Huawei-style IMEI and firmware answers, the Quectel IMSI and ICCID commands
BC660K = (HUAWEI[0], QUECTEL[1], QUECTEL[2], HUAWEI[3])


def read(engine, dialogs):
    # -> {"imei", "imsi", "iccid", "firmware"}: None where the module does not say.
    # dialogs: one of the tables above, or its name here ("HUAWEI", "QUECTEL", "BC660K").
    if isinstance(dialogs, str):
        dialogs = globals()[dialogs]
    out = {}
    for field, command, expect, parse in dialogs:
        reply = engine.command(command, expect, 1000)
        out[field] = parse(reply.lines) if reply.ok else None
    return out


# +CGPADDR:<cid>,<addr>[,<addr2>]   e.g. "+CGPADDR:0,10.45.3.7" or '+CGPADDR: 1,"10.0.0.2"'
# A context without an address answers "+CGPADDR:0". Returns (cid, addr or None) or None.
def pdp_address(line):
    rest = body(line, "+CGPADDR:")
    if rest is None:
        return None
    f = split(rest)
    cid = num(f, 0)
    if cid is None:
        return None
    return (cid, text(f, 1))


def _digits(value, lo, hi):
    return lo <= len(value) <= hi and value.isdigit()
