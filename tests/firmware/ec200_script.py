# Scripted EC200 (Quectel Cat1, QI stack) exchanges shared by the Cat1, MQTT and link tests
# (MIT licence). Each function adds the module's side of one dialog to a ScriptedModem, in the
# formats of at-modems.md §3.2/§4 (space after the colon, quoted kinds, raw binary payloads).
from fakes import Later

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
REG_LTE = b'\r\n+CEREG: 1,"1A2B","01A2B3C4",7\r\n'


def configure(fake, apn="cmiot", sim=b"READY"):
    fake.expect(b"AT\r", OK)
    fake.expect(b"ATE0\r", b"ATE0\r" + OK)
    fake.expect(b"AT+CMEE=1\r", OK)
    fake.expect(b"AT+CPIN?\r", b"\r\n+CPIN: " + sim + b"\r\n" + OK)
    fake.expect(b"AT+CEREG=2\r", OK)
    fake.expect(b"AT+CGREG=2\r", OK)
    if apn:
        fake.expect(b'AT+QICSGP=1,1,"%s","","",0\r' % apn.encode(), OK)
    fake.expect(b"AT+CFUN=1\r", OK)


def registered(fake, searching_polls=0):
    # CEREG?/CGREG? searching a few times, then registered on LTE (AcT 7).
    for _ in range(searching_polls):
        fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG: 2,2\r\n" + OK)
        fake.expect(b"AT+CGREG?\r", b"\r\n+CGREG: 2,2\r\n" + OK)
    fake.expect(b"AT+CEREG?\r", b'\r\n+CEREG: 2,1,"1A2B","01A2B3C4",7\r\n' + OK)


def activate(fake, active=False):
    if active:
        fake.expect(b"AT+QIACT?\r", b'\r\n+QIACT: 1,1,1,"10.7.157.1"\r\n' + OK)
    else:
        fake.expect(b"AT+QIACT?\r", OK)
        fake.expect(b"AT+QIACT=1\r", Later(900, OK))


def attach(fake, apn="cmiot"):
    configure(fake, apn)
    registered(fake)
    activate(fake)


def open_tcp(fake, sock=0, *, host=b"127.0.0.1", port=7000, mode=1, err=0, after_ms=300):
    cmd = b'AT+QIOPEN=1,%d,"TCP","%s",%d,0,%d\r' % (sock, host, port, mode)
    fake.expect(cmd, OK, Later(after_ms, b"\r\n+QIOPEN: %d,%d\r\n" % (sock, err)))


def send(fake, sock, data, result=b"SEND OK"):
    # The prompt comes without a line end; the payload is written raw after it.
    fake.expect(b"AT+QISEND=%d,%d\r" % (sock, len(data)), b"\r\n> ")
    fake.expect(data, b"\r\n" + result + b"\r\n")


def push(fake, sock, data, after_ms=0, tail=b""):
    # Direct push: header line, then exactly len(data) raw bytes, then whatever comes next.
    fake.send(b'\r\n+QIURC: "recv",%d,%d\r\n' % (sock, len(data)) + data + tail, after_ms)
