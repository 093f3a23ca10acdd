# Wired M-Bus (EN 13757-2 link layer, EN 13757-3 application layer): frame codec, variable
# data structure parser and a meter client. Frames (CS = sum mod 256 from C to the last data
# byte): single character E5 (ACK); short 10 C A CS 16; control/long 68 L L 68 C A CI DATA CS 16
# (L counts C A CI DATA). Primary addresses 0-250; 0xFD: the slave selected by secondary address;
# 0xFE: every slave answers (one meter on the bus); 0xFF: broadcast, nobody answers.
# Pure: the host tools import this same file (`nbkit meter decode mbus`, the emulator).
try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


from nbkit.sense import bus
from nbkit.sense.bus import FrameError
from nbkit.sense.mbus_data import BAD_RECORD, parse

# The application layer (CI 0x72/0x7A headers, DIF/VIF records) is nbkit.sense.mbus_data.

ACK = const(0xE5)
SHORT = const(0x10)
# C field: master -> slave (FCB 0x20, FCV 0x10), slave -> master
SND_NKE = const(0x40)
SND_UD = const(0x53)
REQ_UD2 = const(0x5B)
REQ_UD1 = const(0x5A)
RSP_UD = const(0x08)
FCB = const(0x20)
FCV = const(0x10)
# CI field
CI_DATA_SEND = const(0x51)
CI_SELECT = const(0x52)
CI_LONG = const(0x72)
# addresses
ADDR_SELECTED = const(0xFD)
ADDR_TEST = const(0xFE)
ADDR_BROADCAST = const(0xFF)
MAX_TELEGRAMS = const(8)  # multi-telegram reads stop here (a slave that never says "done")

LAYOUTS = (
    bus.Layout(0x68, 1, 4, second_start=3, len_copy=2, cs_from=4),
    bus.Layout(SHORT, size=5, cs_from=1),
    bus.Layout(ACK, size=1, stop=-1),
)


class Frame:
    # A link-layer frame: c is None for the E5 acknowledgement, ci is None for a short frame;
    # data = the bytes after CI; at = offset of data[0] in the frame (for error messages).
    def __init__(self, c=None, a=None, ci=None, data=b"", at=0):
        self.c = c
        self.a = a
        self.ci = ci
        self.data = data
        self.at = at

    def is_ack(self):
        return self.c is None

    def is_rsp_ud(self):
        return self.c is not None and self.c & 0x4F == RSP_UD and self.ci is not None

    def __repr__(self):
        if self.c is None:
            return "<mbus E5>"
        return "<mbus C=%02X A=%02X CI=%s %d bytes>" % (
            self.c,
            self.a,
            "--" if self.ci is None else "%02X" % self.ci,
            len(self.data),
        )


def short_frame(c, a):
    return bytes((SHORT, c, a, (c + a) & 0xFF, bus.END))


def long_frame(c, a, ci, data=b""):
    if len(data) > 252:
        raise ValueError("M-Bus data has at most 252 bytes, got %d" % len(data))
    body = bytearray((0x68, len(data) + 3, len(data) + 3, 0x68, c, a, ci))
    body.extend(data)
    body.append(bus.checksum(body, 4, len(body)))
    body.append(bus.END)
    return bytes(body)


def snd_nke(a):
    return short_frame(SND_NKE, a)


def req_ud2(a, fcb):
    return short_frame(REQ_UD2 | (FCB if fcb else 0), a)


# Selection (CI 0x52), 8 bytes: ID (4 BCD, LSB first; an F nibble matches any digit),
# manufacturer (2, LSB first; FFFF any), version (FF any), medium (FF any).
def selection(ident="FFFFFFFF", man=0xFFFF, version=0xFF, medium=0xFF):
    return long_frame(
        SND_UD, ADDR_SELECTED, CI_SELECT, secondary_bytes(ident, man, version, medium)
    )


def secondary_bytes(ident, man=0xFFFF, version=0xFF, medium=0xFF):
    if len(ident) != 8:
        raise ValueError("a secondary address has 8 digits, got %r" % ident)
    out = bytearray(8)
    for i in range(4):
        out[3 - i] = int(ident[2 * i : 2 * i + 2], 16)
    out[4] = man & 0xFF
    out[5] = man >> 8
    out[6] = version
    out[7] = medium
    return bytes(out)


def decode(raw):
    # One whole captured frame (leading noise allowed) -> Frame. Raises FrameError.
    for i in range(len(raw)):
        b = raw[i]
        for form in LAYOUTS:
            if b == form.start:
                size = bus.check(raw, i, form, complete=True)
                return _frame(raw[i : i + size])
    raise FrameError(bus.NO_START, "no 0x68, 0x10 or 0xE5 in %d bytes" % len(raw))


def _frame(f):
    if len(f) == 1:
        return Frame()
    if f[0] == SHORT:
        return Frame(f[1], f[2])
    if f[1] < 3:
        raise FrameError(bus.BAD_LENGTH, "L=%d: a long frame needs C, A and CI" % f[1])
    return Frame(f[4], f[5], f[6], bytes(f[7:-2]), 7)


class Protocol:
    # What bus.Bus needs: the frame descriptor, no FE wake-up bytes, and decode.
    layouts = LAYOUTS
    wake = 0

    def decode(self, raw):
        return _frame(raw)


class Meter:
    # An M-Bus slave on a bus.Bus (no FE wake-up). address: primary 0-250, ADDR_TEST (the one
    # meter on the bus) or, after select(), ADDR_SELECTED. FCB toggles after every answered
    # REQ_UD2 and restarts at 1 after SND_NKE (EN 13757-2 5.7.7).
    def __init__(self, link, address=ADDR_TEST):
        self.link = link
        self.address = address
        self.fcb = {}  # address -> the FCB of its next REQ_UD2
        self.proto = Protocol()

    def reset(self, address=None):
        # SND_NKE: E5 expected, except to the broadcast address (nobody answers)
        a = self.address if address is None else address
        self.fcb[a] = True
        if a == ADDR_BROADCAST:
            self.link.send(snd_nke(a), self.proto)
            return
        self.link.exchange(snd_nke(a), self.proto, Frame.is_ack)

    def select(self, ident="FFFFFFFF", man=0xFFFF, version=0xFF, medium=0xFF):
        # Secondary addressing: the slave matching ident (F nibbles match any digit) answers E5
        # and is then addressed as 0xFD.
        self.link.exchange(selection(ident, man, version, medium), self.proto, Frame.is_ack)
        self.address = ADDR_SELECTED
        self.fcb[ADDR_SELECTED] = True

    def read(self, keep=None):
        # Every telegram of one readout (DIF 0x1F: more follow) -> (header, [records]). SND_NKE
        # first, so a readout cut short earlier (a reset mid-way) starts at telegram 1 again; not
        # to 0xFD, where SND_NKE would deselect the slave (select() restarts it instead).
        a = self.address
        if a != ADDR_SELECTED:
            self.reset(a)
        header = None
        records = []
        for _ in range(MAX_TELEGRAMS):
            fcb = self.fcb.get(a, True)
            frame = self.link.exchange(req_ud2(a, fcb), self.proto, self._accept)
            self.fcb[a] = not fcb
            t = parse(frame, keep)
            header = header or t.header
            records.extend(t.records)
            if not t.more:
                return header, records
        raise FrameError(BAD_RECORD, "still more records after %d telegrams" % MAX_TELEGRAMS)

    def _accept(self, f):
        if not f.is_rsp_ud():
            return False
        return self.address in (ADDR_TEST, ADDR_SELECTED) or f.a == self.address

    def read_address(self):
        # The one meter on the bus (0xFE): its primary address becomes this client's.
        self.reset(ADDR_TEST)
        frame = self.link.exchange(req_ud2(ADDR_TEST, True), self.proto, self._accept)
        self.fcb[ADDR_TEST] = False
        self.address = frame.a
        self.fcb[frame.a] = True
        return frame.a
