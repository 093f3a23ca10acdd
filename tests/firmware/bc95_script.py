# Scripted BC95 exchanges shared by the modem tests and the AT micro-benchmark (MIT licence).
# Each function adds the modem's side of one dialog to a ScriptedModem, byte for byte as the
# Huawei firmware answers (at-modems.md §1).
from fakes import Later

OK = b"\r\nOK\r\n"
#: the boot banner a BC95/BC28 prints when it resets by itself (watchdog), with its OK
CRASH = b"\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\nNeul\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
BANNER = (
    b"\r\nREBOOTING\r\n\x00H\xc3?"
    b"\r\nBoot: Unsigned\r\nSecurity B.. Verified\r\nProtocol A.. Verified\r\n"
    b"Apps A...... Verified\r\n\r\nREBOOT_CAUSE_APPLICATION_AT\r\nNeul\r\nOK\r\n"
)
POWER_ON_BANNER = b"\r\nREBOOT_CAUSE_SECURITY_PMU_POWER_ON_RESET\r\nNeul\r\nOK\r\n"
NCONFIG_OFF = (
    b"\r\n+NCONFIG:AUTOCONNECT,FALSE\r\n+NCONFIG:CR_0354_0338_SCRAMBLING,TRUE\r\n"
    b"+NCONFIG:COMBINE_ATTACH,FALSE\r\n\r\nOK\r\n"
)
NCONFIG_ON = NCONFIG_OFF.replace(b"AUTOCONNECT,FALSE", b"AUTOCONNECT,TRUE")


def configure(fake, autoconnect=False, cereg_n=2, nsonmi=1):
    # Boot probe and configuration of a module that is already up.
    fake.expect(b"AT\r", OK)
    fake.expect(b"ATE0\r", b"ATE0\r" + OK)  # the echo of ATE0 itself still comes
    fake.expect(b"AT+CMEE=1\r", OK)
    if autoconnect:
        fake.expect(b"AT+NCONFIG?\r", NCONFIG_ON)
        fake.expect(b"AT+NCONFIG=AUTOCONNECT,FALSE\r", OK)
        fake.expect(b"AT+NRB\r", Later(200, BANNER))
        fake.expect(b"AT\r", ERROR)  # the first command after boot may fail
        fake.expect(b"AT\r", OK)
        fake.expect(b"ATE0\r", b"ATE0\r" + OK)
        fake.expect(b"AT+CMEE=1\r", OK)
    else:
        fake.expect(b"AT+NCONFIG?\r", NCONFIG_OFF)
    fake.expect(b"AT+CEREG=%d\r" % cereg_n, OK)
    fake.expect(b"AT+CSCON=1\r", OK)
    fake.expect(b"AT+NPSMR=1\r", OK)
    if nsonmi != 1:
        fake.expect(b"AT+NSONMI=%d\r" % nsonmi, OK)


def attach(fake, register_after_ms=1500):
    # Radio on (a +CEREG URC comes before OK, as in the BC68 log), attach, registration URC.
    fake.expect(b"AT+CFUN=1\r", b"\r\n+CEREG:2,0000,00000000,9\r\n", Later(800, OK))
    fake.expect(
        b"AT+CGATT=1\r",
        OK,
        Later(register_after_ms, b'\r\n+CEREG:1,"0216","0153803F",9\r\n'),
    )


def open_socket(fake, sock=1):
    fake.expect(b"AT+NSOCR=DGRAM,17,0,1\r", b"\r\n%d\r\n" % sock + OK)


def link_up(fake, sock=1):
    # UdpLink.up() on a module that is on but not registered: probe, configure, attach, socket.
    fake.expect(b"AT\r", OK)
    fake.expect(b"AT+CEREG?\r", b"\r\n+CEREG:0,0\r\n" + OK)
    configure(fake)
    attach(fake, register_after_ms=100)
    open_socket(fake, sock)


def send(fake, sock, ip, port, data, *, flags=0):
    from binascii import hexlify

    hexdata = hexlify(data).upper()
    if flags:
        cmd = b"AT+NSOSTF=%d,%s,%d,0x%X,%d,%s\r" % (sock, ip, port, flags, len(data), hexdata)
    else:
        cmd = b"AT+NSOST=%d,%s,%d,%d,%s\r" % (sock, ip, port, len(data), hexdata)
    fake.expect(cmd, b"\r\n+CSCON:1\r\n\r\n%d,%d\r\n" % (sock, len(data)) + OK)
    return cmd


def nsorf(fake, sock, ip, port, data, *, remaining=0):
    from binascii import hexlify

    line = b"%d,%s,%d,%d,%s,%d" % (sock, ip, port, len(data), hexlify(data).upper(), remaining)
    fake.expect(b"AT+NSORF=%d,512\r" % sock, b"\r\n" + line + b"\r\n" + OK)


def nsorf_empty(fake, sock):
    fake.expect(b"AT+NSORF=%d,512\r" % sock, OK)
