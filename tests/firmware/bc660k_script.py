# Scripted Quectel BC660K-GL exchanges for the BC660K driver tests (MIT licence), in the forms
# of the BC660K-GL AT Commands Manual as nbkit.modem.bc660k cites them: space after the colon,
# sockets on context 0 in buffer access mode, QCGDEFCONT for the APN, RDY after a reset.
from binascii import hexlify

from fakes import Later

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
REG_NB = b'\r\n+CEREG: 1,"1A2B","01A2B3C4",9\r\n'


def configure(fake, apn="cmnbiot", cereg_n=2, psm_cmd=None):
    fake.expect(b"AT\r", OK)
    fake.expect(b"AT+QSCLK=0\r", OK)
    fake.expect(b"ATE0\r", b"ATE0\r" + OK)
    fake.expect(b"AT+CMEE=1\r", OK)
    fake.expect(b"AT+CPIN?\r", b"\r\n+CPIN: READY\r\n" + OK)
    fake.expect(b"AT+CEREG=%d\r" % cereg_n, OK)
    fake.expect(b"AT+CSCON=1\r", OK)
    fake.expect(b"AT+QNBIOTEVENT=1,1\r", OK)
    fake.expect(b'AT+QCFG="dsevent",1\r', OK)
    fake.expect(b"AT+QATWAKEUP=1\r", OK)
    fake.expect(b'AT+QICFG="dataformat",0,1\r', OK)
    if psm_cmd:
        fake.expect(psm_cmd.encode() + b"\r", OK)
    if apn:
        fake.expect(b'AT+QCGDEFCONT="IP","%s"\r' % apn.encode(), OK)
    fake.expect(b"AT+CFUN=1\r", OK)


def registered(fake, searching_polls=0, n=2, tail=b""):
    for _ in range(searching_polls):
        fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG: %d,2\r\n" % n + OK)
    fake.expect(b"AT+CEREG?\r", b'\r\n+CEREG: %d,1,"1A2B","01A2B3C4",9%s\r\n' % (n, tail) + OK)


def attach(fake, apn="cmnbiot"):
    configure(fake, apn)
    registered(fake)


def open_udp(fake, sock=0, *, host=b"127.0.0.1", port=7000, err=0, after_ms=300):
    cmd = b'AT+QIOPEN=0,%d,"UDP","%s",%d,0,0\r' % (sock, host, port)
    fake.expect(cmd, OK, Later(after_ms, b"\r\n+QIOPEN: %d,%d\r\n" % (sock, err)))


def send(fake, sock, data, result=b"SEND OK"):
    fake.expect(b"AT+QISEND=%d,%d\r" % (sock, len(data)), b"\r\n> ")
    fake.expect(data, b"\r\n" + result + b"\r\n")


READ = 542  # bytes per AT+QIRD on the test engine (line_max 1100: (1100 - 16) // 2)


def read(fake, sock, data):
    # AT+QIRD=<id>,<n> -> +QIRD: <n> CR LF "<hex>" CR LF OK; an empty read ends the loop.
    reply = b'\r\n+QIRD: %d\r\n"%s"\r\n' % (len(data), hexlify(data).upper()) + OK
    fake.expect(b"AT+QIRD=%d,%d\r" % (sock, READ), reply)


def read_empty(fake, sock):
    fake.expect(b"AT+QIRD=%d,%d\r" % (sock, READ), b"\r\n+QIRD: 0\r\n" + OK)
