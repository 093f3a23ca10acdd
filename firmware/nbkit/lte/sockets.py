# UDP/TCP sockets of the Huawei firmware, AT+NSO* (BC95 / BC28 / BC35-G) (MIT licence).
#
# Payloads travel as upper-case hex (2 characters per byte); hex is parsed case-insensitively.
from binascii import hexlify, unhexlify

from nbkit.lte.fields import body, num, split, text

try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


# AT+NSOSTF flags (release assistance indication)
FLAG_NONE = 0
FLAG_EXCEPTION = 0x100  # exception data, high priority
FLAG_RELEASE = 0x200  # release RRC right after this uplink (no reply expected)
FLAG_RELEASE_AFTER_REPLY = 0x400  # release RRC after the next downlink
_FLAGS = (FLAG_NONE, FLAG_EXCEPTION, FLAG_RELEASE, FLAG_RELEASE_AFTER_REPLY)

NSONMI = "+NSONMI:"
NSOCLI = "+NSOCLI:"
MAX_SOCKETS = 7  # ids 0..6


def create(port=0, receive=True, proto="UDP"):
    # AT+NSOCR=<type>,<protocol>,<listen_port>[,<receive_control>]; answer: bare id line, OK.
    kind = "DGRAM,17" if proto == "UDP" else "STREAM,6"
    return "AT+NSOCR=%s,%d,%d" % (kind, port, 1 if receive else 0)


def sendto(sock, ip, port, data, flags=0):
    # AT+NSOST=<socket>,<ip>,<port>,<length>,<hexdata>
    # AT+NSOSTF=<socket>,<ip>,<port>,<flag>,<length>,<hexdata>     (when flags != 0)
    if flags not in _FLAGS:
        raise ValueError("NSOSTF flag must be 0, 0x100, 0x200 or 0x400")
    hexdata = hexlify(data).upper().decode()
    if flags:
        return "AT+NSOSTF=%d,%s,%d,0x%X,%d,%s" % (sock, ip, port, flags, len(data), hexdata)
    return "AT+NSOST=%d,%s,%d,%d,%s" % (sock, ip, port, len(data), hexdata)


def receive(sock, max_len):
    # AT+NSORF=<socket>,<req_length>
    return "AT+NSORF=%d,%d" % (sock, max_len)


def close(sock):
    return "AT+NSOCL=%d" % sock


# <socket>        bare line answering AT+NSOCR (XinYi non-Quectel builds: "+NSOCR:<socket>")
def parse_socket(line):
    rest = body(line, "+NSOCR:")
    f = split(rest if rest is not None else line)
    sock = num(f, 0)
    if len(f) != 1 or sock is None or not 0 <= sock < MAX_SOCKETS:
        return None
    return sock


# <socket>,<length>     bare line answering AT+NSOST / AT+NSOSTF (bytes accepted)
def parse_sent(line):
    f = split(line)
    if len(f) != 2 or num(f, 0) is None or num(f, 1) is None:
        return None
    return (num(f, 0), num(f, 1))


class Datagram:
    # One received datagram (or its announcement): sock, ip, port, length, data (bytes or None),
    # remaining (bytes still queued after it, NSORF only; None otherwise).

    def __init__(self, sock, length):
        self.sock = sock
        self.length = length
        self.ip = None
        self.port = None
        self.data = None
        self.remaining = None

    def __repr__(self):
        return "<Datagram sock=%s %s:%s len=%s rem=%s>" % (
            self.sock,
            self.ip,
            self.port,
            self.length,
            self.remaining,
        )


# Field positions (socket, ip, port, length, hexdata) of each datagram line layout.
_MODE1 = const((0, None, None, 1, None))
_MODE3 = const((0, None, None, 1, 2))
_FULL = const((0, 1, 2, 3, 4))


# +NSONMI URC, by AT+NSONMI=<mode>:
#   mode 1: +NSONMI:<socket>,<length>                                 (default; old BC95 B656)
#   mode 2: +NSONMI:<socket>,<remote_ip>,<remote_port>,<length>,<hexdata>
#   mode 3: +NSONMI:<socket>,<length>,<hexdata>
# The field count tells the mode. Returns a Datagram (data None in mode 1) or None.
def parse_nsonmi(line):
    rest = body(line, NSONMI)
    if rest is None:
        return None
    f = split(rest)
    if len(f) == 2:
        return _datagram(f, _MODE1)
    if len(f) == 3:
        return _datagram(f, _MODE3)
    if len(f) == 5:
        return _datagram(f, _FULL)
    return None


# AT+NSORF answer: <socket>,<ip>,<port>,<length>,<hexdata>,<remaining_length>   then OK
# e.g. "1,188.77.165.106,16666,12,48656C6C6F20576F726C6421,0"; an empty socket answers only OK.
def parse_nsorf(line):
    f = split(line)
    if len(f) != 6:
        return None
    dg = _datagram(f, _FULL)
    if dg is None:
        return None
    dg.remaining = num(f, 5)
    if dg.remaining is None:
        return None
    return dg


# +NSOCLI:<socket>      the peer closed a TCP socket (or the module dropped it)
def parse_nsocli(line):
    rest = body(line, NSOCLI)
    return None if rest is None else num(split(rest), 0)


def _datagram(f, layout):
    i_sock, i_ip, i_port, i_len, i_hex = layout
    sock = num(f, i_sock)
    length = num(f, i_len)
    if sock is None or length is None:
        return None
    dg = Datagram(sock, length)
    if i_ip is not None:
        dg.ip = text(f, i_ip)
        dg.port = num(f, i_port)
    if i_hex is not None:
        dg.data = _unhex(f[i_hex], length)
        if dg.data is None:
            return None
    return dg


def _unhex(hexdata, length):
    # hex -> bytes; None when malformed or not 2*length characters.
    if len(hexdata) != 2 * length:
        return None
    try:
        return unhexlify(hexdata)
    except ValueError:
        return None
