# Quectel AT MQTT client, AT+QMT* (BC26/BC28-R2, EC200/EC600): builders and parsers, no I/O
# (MIT licence). Formats: at-modems.md §3.1.
#
# Payload encoding (decided here, the host side follows it): the client configures
#   AT+QMTCFG="dataformat",<client>,1,1
# so payloads cross the UART as upper-case hex (publish: hex digits after the '>' prompt, then
# Ctrl-Z; +QMTRECV: the payload as hex) while the MQTT message on the broker carries the raw
# bytes. Why: frames are binary and any byte may occur; 0x1A (Ctrl-Z) would end a prompt-mode
# payload early and CR/LF/'"' would break the +QMTRECV line, while hex never contains them. The
# same Ctrl-Z form works on BC26 (which has no length-prefixed publish everywhere).
from binascii import hexlify

from nbkit.lte.fields import body, num, split

QMTOPEN = "+QMTOPEN:"
QMTCONN = "+QMTCONN:"
QMTSUB = "+QMTSUB:"
QMTPUB = "+QMTPUB:"
QMTRECV = "+QMTRECV:"
QMTSTAT = "+QMTSTAT:"
QMTDISC = "+QMTDISC:"
QMTCLOSE = "+QMTCLOSE:"
CTRL_Z = b"\x1a"
VERSION_311 = 4  # AT+QMTCFG="version": 3 = MQTT 3.1, 4 = 3.1.1

# +QMTOPEN result
OPEN_RESULTS = {
    -1: "network open failed",
    0: "ok",
    1: "wrong parameter",
    2: "MQTT identifier occupied",
    3: "PDP activation failed",
    4: "domain name parse failed",
    5: "network disconnected",
}
# +QMTPUB / +QMTSUB / +QMTCONN result
RESULT_OK = 0  # sent and acknowledged
RESULT_RETRANSMIT = 1  # retransmitting (still in progress)
RESULT_FAILED = 2
# +QMTSTAT error codes: the connection is gone (the client is back to its initial state)
STAT_NAMES = {
    1: "connection closed or reset by peer",
    2: "PINGREQ timeout",
    3: "CONNECT timeout",
    4: "CONNACK timeout",
    5: "client sent DISCONNECT",
    6: "repeated send failure",
    7: "link inactive or PDP deactivated",
}


def _q(value, what):
    if '"' in value or "\r" in value or "\n" in value or len(value) > 256:
        raise ValueError("%s must be at most 256 characters, no quotes or line ends" % what)
    return value


def cfg_version(client, version=VERSION_311):
    return 'AT+QMTCFG="version",%d,%d' % (client, version)


def cfg_keepalive(client, seconds):
    if not 0 <= seconds <= 3600:
        raise ValueError("keepalive must be 0..3600 s")
    return 'AT+QMTCFG="keepalive",%d,%d' % (client, seconds)


def cfg_dataformat(client, send_hex=1, recv_hex=1):
    return 'AT+QMTCFG="dataformat",%d,%d,%d' % (client, send_hex, recv_hex)


def open_cmd(client, host, port):
    # AT+QMTOPEN=<client>,"<host>",<port>  -> OK, then +QMTOPEN: <client>,<result>
    return 'AT+QMTOPEN=%d,"%s",%d' % (client, _q(host, "host"), port)


def conn_cmd(client, client_id, user="", password=""):
    # AT+QMTCONN=<client>,"<clientid>"[,"<user>","<pass>"] -> OK, +QMTCONN: <c>,<result>,<ret>
    cmd = 'AT+QMTCONN=%d,"%s"' % (client, _q(client_id, "client id"))
    if user:
        cmd += ',"%s","%s"' % (_q(user, "user"), _q(password, "password"))
    return cmd


def sub_cmd(client, msgid, topic, qos=1):
    # AT+QMTSUB=<client>,<msgid>,"<topic>",<qos>  -> OK, +QMTSUB: <c>,<msgid>,<result>,<value>
    return 'AT+QMTSUB=%d,%d,"%s",%d' % (client, msgid, _q(topic, "topic"), qos)


def pub_cmd(client, msgid, qos, retain, topic):
    # AT+QMTPUB=<client>,<msgid>,<qos>,<retain>,"<topic>"  -> '>' -> payload, Ctrl-Z -> OK,
    # then +QMTPUB: <client>,<msgid>,<result>[,<value>]   (msgid 0 with QoS 0, 1..65535 else)
    if qos not in (0, 1, 2) or (qos == 0) != (msgid == 0):
        raise ValueError("msgid must be 0 for QoS 0 and 1..65535 otherwise")
    return 'AT+QMTPUB=%d,%d,%d,%d,"%s"' % (client, msgid, qos, retain, _q(topic, "topic"))


def pub_data(payload):
    # What is written after the prompt: the payload in hex, then Ctrl-Z (see the header).
    return hexlify(payload).upper() + CTRL_Z


def disc_cmd(client):
    return "AT+QMTDISC=%d" % client


def close_cmd(client):
    return "AT+QMTCLOSE=%d" % client


# +QMTOPEN: <client>,<result>  /  +QMTDISC: <client>,<result>  /  +QMTCLOSE: <client>,<result>
# +QMTSTAT: <client>,<err_code>
# -> (client, value) or None.
def parse_pair(line, prefix):
    rest = body(line, prefix)
    if rest is None:
        return None
    f = split(rest)
    client, value = num(f, 0), num(f, 1)
    if client is None or value is None:
        return None
    return (client, value)


# +QMTCONN: <client>,<result>[,<ret_code>]   ret_code = CONNACK return code (0 accepted)
# +QMTPUB: <client>,<msgid>,<result>[,<value>]   +QMTSUB: <client>,<msgid>,<result>[,<value>]
# -> tuple of ints (missing trailing fields None), or None when the first two are missing.
def parse_ints(line, prefix, count):
    rest = body(line, prefix)
    if rest is None:
        return None
    f = split(rest)
    out = tuple(num(f, i) for i in range(count))
    if out[0] is None or out[1] is None:
        return None
    return out


class Message:
    # One +QMTRECV: client, msgid, topic, payload (the text between the payload quotes, as
    # sent: hex under dataformat 1,1), length (when the firmware adds it, else None).

    def __init__(self, client, msgid, topic, payload, length):
        self.client = client
        self.msgid = msgid
        self.topic = topic
        self.payload = payload
        self.length = length

    def __repr__(self):
        return "<Message %s %r %r>" % (self.msgid, self.topic, self.payload)


# +QMTRECV: <client>,<msgid>,"<topic>","<payload>"
# +QMTRECV: <client>,<msgid>,"<topic>",<payload_len>,"<payload>"     (EC2x with length)
# +QMTRECV: <client>,<msgid>,"<topic>",<payload>                     (unquoted payload)
# Parsed by counting quotes, not by splitting on commas: the topic is between the first two
# quotes, the payload between the third and the last quote (so commas and quotes inside a text
# payload survive). -> Message or None.
def parse_recv(line):
    rest = body(line, QMTRECV)
    if rest is None:
        return None
    q1 = rest.find('"')
    q2 = rest.find('"', q1 + 1) if q1 >= 0 else -1
    if q2 < 0:
        return None
    head = split(rest[:q1].rstrip(" ,"))
    client, msgid = num(head, 0), num(head, 1)
    if client is None or msgid is None or len(head) != 2:
        return None
    topic = rest[q1 + 1 : q2]
    tail = rest[q2 + 1 :].strip()
    if not tail.startswith(","):
        return None
    tail = tail[1:].strip()
    length = None
    q3 = tail.find('"')
    if q3 >= 0:
        if not tail.endswith('"') or len(tail) - q3 < 2:
            return None
        payload = tail[q3 + 1 : -1]
        mid = tail[:q3].strip(" ,")
        if mid:
            length = num([mid], 0)
            if length is None:
                return None
    else:
        parts = tail.split(",")
        if len(parts) > 2:
            return None
        if len(parts) == 2:
            length = num(parts, 0)
        payload = parts[-1].strip()
    return Message(client, msgid, topic, payload, length)
