# Quectel QI TCP/IP stack, AT+QI* (EC200/EC600 Cat1, BC26/BC66): builders and parsers, no I/O
# (MIT licence). Formats: at-modems.md §3.2 and §4. Payloads are raw binary on the UART (not
# hex): AT+QISEND writes them after the '>' prompt, "+QIURC: "recv",<id>,<len>" and "+QIRD: <n>"
# are followed by exactly that many raw bytes (read by count: nbkit.at.engine raw_len).
from binascii import unhexlify

from nbkit.lte import cereg
from nbkit.lte.fields import body, num, split, text

QIURC = "+QIURC:"
QIOPEN = "+QIOPEN:"
QIRD = "+QIRD:"
QIACT = "+QIACT:"
CPIN = "+CPIN:"
CGREG = "+CGREG:"
MAX_SOCKETS = 12  # connect ids 0..11
SEND_MAX = 1460  # bytes per AT+QISEND (EC200 data mode limit); longer data is sent in parts

ACT_EUTRAN = 7  # <AcT> of +CEREG/+CGREG on LTE Cat1 (NB-IoT says 9)

MODE_BUFFER = 0  # access mode: "+QIURC: "recv",<id>" then AT+QIRD
MODE_PUSH = 1  # direct push: "+QIURC: "recv",<id>,<len>" + the bytes

AUTH_NONE = 0
AUTH_PAP = 1
AUTH_CHAP = 2

# TCP/IP error codes of +QIOPEN / +QIURC: "dnsgip" / +CME ERROR (550..574).
ERRORS = {
    550: "unknown error",
    551: "operation blocked",
    552: "invalid parameters",
    553: "memory not enough",
    554: "create socket failed",
    555: "operation not supported",
    556: "socket bind failed",
    557: "socket listen failed",
    558: "socket write failed",
    559: "socket read failed",
    560: "socket accept failed",
    561: "open PDP context failed",
    562: "close PDP context failed",
    563: "socket identity has been used",
    564: "DNS busy",
    565: "DNS parse failed",
    566: "socket connect failed",
    567: "socket has been closed",
    568: "operation busy",
    569: "operation timeout",
    570: "PDP context broken down",
    571: "cancel send",
    572: "operation not allowed",
    573: "APN not configured",
    574: "port busy",
}


def error_name(code):
    # "566 socket connect failed"; unknown numbers are named by number only.
    name = ERRORS.get(code)
    return "%s %s" % (code, name) if name else "error %s" % (code,)


def _quoted(value, what):
    if '"' in value or "\r" in value or "\n" in value:
        raise ValueError("%s must not contain quotes or line ends" % what)
    return value


# -- commands -------------------------------------------------------------------------------


def qicsgp(apn, user="", password="", auth=AUTH_NONE, context=1):
    # AT+QICSGP=<contextID>,<context_type 1=IPv4>,"<APN>","<username>","<password>",<auth>
    if auth not in (AUTH_NONE, AUTH_PAP, AUTH_CHAP):
        raise ValueError("auth must be 0 (none), 1 (PAP) or 2 (CHAP)")
    return 'AT+QICSGP=%d,1,"%s","%s","%s",%d' % (
        context,
        _quoted(apn, "APN"),
        _quoted(user, "user"),
        _quoted(password, "password"),
        auth,
    )


def qiopen(sock, kind, host, port, mode=MODE_PUSH, *, context=1):
    # AT+QIOPEN=<contextID>,<connectID>,"TCP"|"UDP","<host>",<remote_port>,<local_port 0>,<mode>
    if kind not in ("TCP", "UDP"):
        raise ValueError("socket type must be TCP or UDP")
    if not 0 <= sock < MAX_SOCKETS or not 0 < port < 65536 or mode not in (0, 1):
        raise ValueError("bad socket id, port or access mode")
    return 'AT+QIOPEN=%d,%d,"%s","%s",%d,0,%d' % (
        context,
        sock,
        kind,
        _quoted(host, "host"),
        port,
        mode,
    )


def qisend(sock, length):
    # AT+QISEND=<connectID>,<send_length>  -> "> " -> raw bytes -> SEND OK / SEND FAIL
    return "AT+QISEND=%d,%d" % (sock, length)


def qird(sock, length):
    # AT+QIRD=<connectID>,<read_length>
    return "AT+QIRD=%d,%d" % (sock, length)


def qiclose(sock):
    return "AT+QICLOSE=%d" % sock


def qidnsgip(host, context=1):
    # AT+QIDNSGIP=<contextID>,"<hostname>"  -> OK, then the "dnsgip" URCs
    return 'AT+QIDNSGIP=%d,"%s"' % (context, _quoted(host, "host"))


# -- parsers --------------------------------------------------------------------------------


# +CPIN: READY | +CPIN: SIM PIN | +CPIN: SIM PUK ...  -> the state text, or None.
def parse_cpin(line):
    rest = body(line, CPIN)
    return rest.strip() if rest else None


# +QIOPEN: <connectID>,<err>     e.g. "+QIOPEN: 0,0" (open), "+QIOPEN: 1,566" (connect failed)
# -> (sock, err) or None.
def parse_qiopen(line):
    rest = body(line, QIOPEN)
    if rest is None:
        return None
    f = split(rest)
    sock, err = num(f, 0), num(f, 1)
    if sock is None or err is None or len(f) != 2:
        return None
    return (sock, err)


# +QIACT: <contextID>,<context_state>,<context_type>[,"<IP_address>"]
# e.g. '+QIACT: 1,1,1,"10.7.157.1"'  -> (cid, active bool, ip or None) or None.
def parse_qiact(line):
    rest = body(line, QIACT)
    if rest is None:
        return None
    f = split(rest)
    cid, state = num(f, 0), num(f, 1)
    if cid is None or state is None:
        return None
    return (cid, state == 1, text(f, 3))


# +QIRD: <read_actual_length>[,"<remote IP>",<remote_port>]   (the bytes follow the line)
# -> the length. Raises ValueError on a garbled line (the engine then reads nothing).
def qird_len(line):
    f = split(body(line, QIRD) or "")
    n = num(f, 0)
    if n is None or n < 0:
        raise ValueError("bad +QIRD line")
    return n


# BC660K (receive data format hex, AT+QICFG="dataformat",0,1), the data quoted after the header
# on the next line (or after a comma with AT+QICFG="viewmode",1):
#   +QIRD: <read_actual_length>                 then   "<2n hex digits>"
#   +QIRD: <read_actual_length>,"<2n hex digits>"
#   +QIRD: 0                                    nothing (more) to read
# lines: the reply lines (prefix "+QIRD:" and bare quoted lines) -> bytes (b"" when empty).
# Raises ValueError naming what is wrong (no header, count and data disagree, not hex).
def parse_qird_hex(lines):
    n = None
    data = None
    for line in lines:
        rest = body(line, QIRD)
        if rest is not None:
            f = split(rest)
            n = num(f, 0)
            if len(f) > 1:
                data = f[1]
        elif n is not None and data is None:
            data = line.strip().strip('"')
    if n is None or n < 0:
        raise ValueError("no +QIRD: <length> line")
    data = data or ""
    if len(data) != 2 * n:
        raise ValueError("+QIRD: %d but %d hex digits" % (n, len(data)))
    try:
        return unhexlify(data)
    except ValueError:
        raise ValueError("+QIRD data is not hex") from None


class Urc:
    # One parsed +QIURC: kind ("recv", "closed", "pdpdeact", "dnsgip", "incoming full", ...),
    # sock (connect id, or context id for pdpdeact), length (recv: the byte count, or None in
    # buffer mode), err/count/ttl (dnsgip header), ip (dnsgip address line).

    def __init__(self, kind):
        self.kind = kind
        self.sock = None
        self.length = None
        self.err = None
        self.count = None
        self.ttl = None
        self.ip = None

    def __repr__(self):
        return "<QIURC %s sock=%s len=%s err=%s ip=%s>" % (
            self.kind,
            self.sock,
            self.length,
            self.err,
            self.ip,
        )


# +QIURC: "recv",<connectID>,<len>          direct push, <len> raw bytes follow the line
# +QIURC: "recv",<connectID>                buffer mode: read with AT+QIRD
# +QIURC: "closed",<connectID>              peer closed (AT+QICLOSE it to free the id)
# +QIURC: "pdpdeact",<contextID>            PDP context lost: every socket of it is gone
# +QIURC: "dnsgip",<err>,<IP_count>,<DNS_ttl>   DNS header (err 0 = ok)
# +QIURC: "dnsgip",<err>                    DNS failed (e.g. 565)
# +QIURC: "dnsgip","<IP_addr>"              one per address after a good header
# -> Urc or None when the line is not understood.
def parse_qiurc(line):
    rest = body(line, QIURC)
    if rest is None:
        return None
    f = split(rest)
    urc = Urc(f[0])
    if urc.kind == "dnsgip":
        if len(f) >= 2 and num(f, 1) is None:
            urc.ip = text(f, 1)
            return urc if urc.ip else None
        urc.err, urc.count, urc.ttl = num(f, 1), num(f, 2), num(f, 3)
        return urc if urc.err is not None else None
    urc.sock = num(f, 1)
    if urc.sock is None:
        return None
    if urc.kind == "recv":
        urc.length = num(f, 2)
    return urc


def recv_len(line):
    # raw_len for the engine: bytes that follow a '+QIURC: "recv",<id>,<len>' line (0 when the
    # line has no length: buffer mode, or another "+QIURC:" kind).
    urc = parse_qiurc(line)
    if urc is None or urc.kind != "recv" or urc.length is None:
        return 0
    return urc.length


# +CGREG: [<n>,]<stat>[,<lac>,<ci>[,<AcT>,<rac>]]  (27.007 §10.1.20, same layout as +CEREG up to
# AcT). -> cereg.Reg (tac holds the LAC), or None. +CEREG lines go to cereg.parse unchanged.
def parse_reg(line, read=False):
    if line.startswith(CGREG):
        line = cereg.PREFIX + line[len(CGREG) :]
    return cereg.parse(line, read)
