# CoAP to an operator IoT platform (Huawei OceanConnect / China Telecom) through the BC95/BC28
# firmware's own LwM2M client: AT+NCDP / AT+NMGS / AT+NMGR and their URCs (MIT licence).
# Builders and parsers only, no I/O. Formats: at-modems.md §1.6. Payloads are hex on the UART
# (2 characters per byte, upper case out, either case in); the platform sees the bytes.
from binascii import hexlify, unhexlify

from nbkit.lte.fields import body, num, split

NNMI = "+NNMI"  # "+NNMI:<len>,<hex>" (NNMI=1) or a bare "+NNMI" indication (NNMI=2)
NSMI = "+NSMI:"
QLWEVTIND = "+QLWEVTIND:"
NMSTATUS = "+NMSTATUS:"
NCDP = "+NCDP:"
SMI_ON = "AT+NSMI=1"  # +NSMI:SENT / +NSMI:DISCARDED after each AT+NMGS
NMI_ON = "AT+NNMI=1"  # downlink pushed in +NNMI:<len>,<hex>
NMSTATUS_READ = "AT+NMSTATUS?"
NMGR = "AT+NMGR"
MO_DATA_ENABLED = "MO_DATA_ENABLED"
CME_NOT_REGISTERED = 513  # AT+NMGS before the platform registration is done (TUP not registered)
EVT_REGISTERED = 0  # +QLWEVTIND:0 registered to the IoT platform
EVT_READY = 3  # +QLWEVTIND:3 object 19 observed: ready to send (the same as MO_DATA_ENABLED)
MAX_PAYLOAD = 512  # AT+NMGS limit on BC95/BC28 (bytes)
PORT = 5683


def ncdp(ip, port=PORT):
    # AT+NCDP=<ip>[,<port>]: the platform's address (an IP, no names on this firmware).
    if not 0 < port < 65536 or not ip or '"' in ip or "," in ip:
        raise ValueError("CDP server must be an IP address and a port 1..65535")
    return "AT+NCDP=%s,%d" % (ip, port)


def nmgs(data):
    # AT+NMGS=<length>,<hex>  -> OK (then +NSMI:SENT) or +CME ERROR: 513 until registered
    if not 0 < len(data) <= MAX_PAYLOAD:
        raise ValueError("CDP payload must be 1..%d bytes" % MAX_PAYLOAD)
    return "AT+NMGS=%d,%s" % (len(data), hexlify(data).upper().decode())


# +NCDP:49.4.85.232,5683    -> (ip, port) or None
def parse_ncdp(line):
    rest = body(line, NCDP)
    if rest is None:
        return None
    f = split(rest)
    port = num(f, 1)
    return (f[0], port if port is not None else PORT) if f[0] else None


# +NMSTATUS:MO_DATA_ENABLED   (others: UNINITIALISED, MISSING_CONFIG, INIT_FAILED, REGISTERED,
# REJECTED_BY_SERVER, TIMEOUT_AND_RETRYING ...)  -> the status text or None
def parse_nmstatus(line):
    rest = body(line, NMSTATUS)
    return rest.strip() or None if rest is not None else None


# +NSMI:SENT | +NSMI:DISCARDED | +NSMI:SENT_TO_AIR    -> the word, or None
def parse_nsmi(line):
    rest = body(line, NSMI)
    return rest.strip() or None if rest is not None else None


# +QLWEVTIND:<type>    0 registered, 1 deregistered, 2 registration updated, 3 object 19
# observed (ready), 4 bootstrap done, 5 notify failed, 6 ...  -> the number or None
def parse_qlwevtind(line):
    rest = body(line, QLWEVTIND)
    return num([rest.strip()], 0) if rest is not None else None


# +NNMI:<len>,<hex>   e.g. "+NNMI:2,A101"  -> bytes; a bare "+NNMI" (NNMI=2) -> b"" (read
# with AT+NMGR); None when the line is malformed (length and hex disagree, bad hex).
def parse_nnmi(line):
    if line.strip() == NNMI:
        return b""
    rest = body(line, NNMI + ":")
    return _len_hex(rest) if rest is not None else None


# <len>,<hex>   bare line answering AT+NMGR (e.g. "2,4F4E"); "0," or "0" when empty
def parse_nmgr(line):
    return _len_hex(line)


def _len_hex(text):
    f = split(text)
    n = num(f, 0)
    if n is None or n < 0:
        return None
    hexdata = f[1] if len(f) > 1 else ""
    if len(hexdata) != 2 * n:
        return None
    try:
        return unhexlify(hexdata)
    except ValueError:
        return None
