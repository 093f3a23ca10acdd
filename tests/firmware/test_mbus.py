# M-Bus (EN 13757-2/-3) in MicroPython: frames, the variable data structure, the meter client's
# addressing and multi-telegram FCB dialogue, and the heat-mbus profile's adapter on virtual time.
from nbkit.hal.clock import ManualClock
from nbkit.proto import codes
from nbkit.sense import bus, mbus, mbus_build, mbus_data, protocols

# Engelmann SensoStar 2 heat meter (rscada/libmbus test frame, tests/vectors/mbus)
SENSOSTAR = bytes.fromhex(
    "68A1A16808007245330824C5140004662700000478917B6F01046D172ECC1304150000000044150000000084"
    "0115000000000406000000004406000000008401060000000084100600000000C41006000000008411060000"
    "0000426CBF1C026CDF1C8420060000000084300600000000043B00000000143B19000000042B00000000142B"
    "0B000000025B1600025F150004610900000002230C0201FD17000490280B000000EB16"
)


def _raises(fn, reason, *words):
    try:
        fn()
    except bus.FrameError as e:
        assert e.reason == reason, (e.reason, str(e))
        for w in words:
            assert w in str(e), (w, str(e))
        return
    raise AssertionError("no FrameError")


def test_frames_round_trip_and_checksum_from_c_field():
    assert mbus.snd_nke(5) == bytes((0x10, 0x40, 0x05, 0x45, 0x16))
    assert mbus.req_ud2(0xFE, True) == bytes((0x10, 0x7B, 0xFE, 0x79, 0x16))
    f = mbus.decode(mbus.req_ud2(3, False))
    assert (f.c, f.a, f.ci) == (0x5B, 3, None)
    assert mbus.decode(b"\x00\xe5").is_ack()
    sel = mbus.selection("1234FFFF", 0xFFFF, 0xFF, 0x04)
    assert sel[:7] == bytes((0x68, 0x0B, 0x0B, 0x68, 0x53, 0xFD, 0x52)), sel
    f = mbus.decode(sel)
    assert f.ci == mbus.CI_SELECT and f.data[:4] == bytes((0xFF, 0xFF, 0x34, 0x12))


def test_bad_frames_name_the_byte_or_field():
    good = mbus.long_frame(0x08, 1, 0x72, b"\x00" * 12)
    bad_cs = good[:-2] + bytes(((good[-2] + 1) & 0xFF,)) + good[-1:]
    _raises(lambda: mbus.decode(bad_cs), bus.BAD_CHECKSUM, "computed")
    copy = bytearray(good)
    copy[2] += 1
    _raises(lambda: mbus.decode(bytes(copy)), bus.BAD_HEADER, "byte 2")
    _raises(lambda: mbus.decode(good[:9]), bus.TRUNCATED)
    _raises(lambda: mbus.decode(b"\x01\x02"), bus.NO_START)
    short = mbus.long_frame(0x08, 1, 0x72, b"\x00" * 5)
    _raises(lambda: mbus_data.parse(mbus.decode(short)), bus.TRUNCATED, "byte 7", "header")
    rec = mbus.long_frame(0x08, 1, 0x78, b"\x04\x13\x01\x02")  # 32-bit value, 2 bytes left
    _raises(lambda: mbus_data.parse(mbus.decode(rec)), bus.TRUNCATED, "record at byte 7")
    lvar = mbus.long_frame(0x08, 1, 0x78, b"\x0d\x13\xf9\x00")
    _raises(lambda: mbus_data.parse(mbus.decode(lvar)), mbus_data.BAD_RECORD, "LVAR 0xF9")


def test_a_real_heat_meter_telegram_decodes_with_units_storage_and_tariff():
    t = mbus_data.parse(mbus.decode(SENSOSTAR))
    h = t.header
    assert (h.ident, h.man, h.medium, h.access, h.status) == ("24083345", "EFE", 4, 102, 0x27)
    assert len(t.records) == 25
    r = t.records
    assert r[1].quantity == "date and time" and r[1].value == (2014, 3, 12, 14, 23)
    assert (r[4].quantity, r[4].unit, r[4].storage) == ("volume", "m3", 2)
    assert (r[8].unit, r[8].exp, r[8].tariff, r[8].storage) == ("Wh", 3, 1, 0)
    assert r[11].value == (2013, 12, 31) and r[11].storage == 1
    assert (r[16].function, r[16].scaled(-3), r[16].unit) == (mbus_data.MAXIMUM, 25, "m3/h")
    assert (r[19].quantity, r[19].value, r[19].unit) == ("flow temperature", 22, "C")
    assert (r[22].quantity, r[22].value, r[22].unit) == ("on time", 524, "d")
    assert r[23].quantity == "error flags" and r[24].scaled(-6) == 11


def test_values_of_every_coding():
    data = b"".join(
        (
            mbus_build.record(0x0C, 0x06, bytes((0x78, 0x56, 0x34, 0xF2))),  # BCD, F: negative
            mbus_build.record(0x05, 0x3E, bytes((0x00, 0x00, 0xC0, 0x3F))),  # real32 1.5
            mbus_build.record(0x07, 0x13, mbus_build.le(2**40 + 5, 8)),  # 64-bit
            mbus_build.record(0x02, 0x5A, mbus_build.le(-125 & 0xFFFF, 2)),  # signed 16-bit
            mbus_build.record(0x0D, 0xFD, b"\x03CBA", vifes=b"\x0c"),  # text, sent reversed
            mbus_build.record(0x0D, 0x13, b"\xc2\x34\x12"),  # variable BCD
            mbus_build.record(0x0D, 0x13, b"\xe1\x07"),  # variable binary
            mbus_build.record(
                0x44, 0x13, mbus_build.le(9, 4), dife=b"\x53"
            ),  # DIFE: subunit 1, tariff 1, storage 3
            mbus_build.record(0x04, 0xFB, mbus_build.le(7, 4), vifes=b"\x01"),  # FB: MWh
            mbus_build.record(0x04, 0x93, mbus_build.le(3, 4), vifes=b"\x7d"),  # x10^3
            b"\x2f\x0f\xaa\xbb",  # filler, manufacturer data
        )
    )
    t = mbus_data.parse(mbus.decode(mbus.long_frame(0x08, 1, 0x7A, b"\x11\x00\x00\x00" + data)))
    assert t.header.access == 0x11 and t.header.ident is None
    v = [r.value for r in t.records]
    assert v[0] == -2345678 and t.records[0].exp == 3
    assert v[1] == 1.5 and v[2] == 2**40 + 5 and v[3] == -125
    assert v[4] == "ABC" and t.records[4].quantity == "model/version"
    assert v[5] == 1234 and v[6] == 7
    r = t.records[7]
    assert (r.storage, r.tariff, r.subunit) == (1 | 3 << 1, 1, 1), (r.storage, r.tariff, r.subunit)
    assert (t.records[8].unit, t.records[8].scaled(0)) == ("Wh", 7000000)
    assert t.records[9].scaled(-3) == 3000  # 10^-3 m3 x 10^3
    assert t.mdata == b"\xaa\xbb" and not t.more


class Slave:
    # An M-Bus slave on the line: primary address 7, ident 12345678, two telegrams per readout.
    def __init__(self, clock):
        self.clock = clock
        self.pending = b""
        self.requests = []
        self.selected = False
        self.next = 0
        self.last = None
        self.silent = False

    def write(self, data):
        self.requests.append(bytes(data))
        f = mbus.decode(bytes(data))
        out = None
        if f.ci == mbus.CI_SELECT:
            self.selected = mbus_build.selects(f.data, mbus_build.bcd(12345678, 4), 0x2C2D, 1, 4)
            out = b"\xe5" if self.selected else None
        elif f.a in (7, 0xFE) or (f.a == 0xFD and self.selected):
            if f.c == mbus.SND_NKE:
                self.next, self.last, out = 0, None, b"\xe5"
            elif f.c & 0xDF == mbus.REQ_UD2:
                out = self._telegram(f.c & mbus.FCB)
        if not self.silent:
            self.pending += out or b""
        return len(data)

    def _telegram(self, fcb):
        if self.last and self.last[0] == fcb:
            return self.last[1]
        head = mbus_build.long_header("12345678", "KAM", 1, 4, self.next)
        if self.next == 0:
            body = mbus_build.record(0x04, 0x06, mbus_build.le(1234, 4))  # 1234 kWh
            body += mbus_build.record(0x04, 0x13, mbus_build.le(56789, 4))  # 56.789 m3
            body += mbus_build.record(0x44, 0x06, mbus_build.le(1000, 4))  # storage 1
            body += b"\x1f"
            self.next = 1
        else:
            body = mbus_build.record(0x02, 0x59, mbus_build.le(7012, 2))  # 70.12 C
            body += mbus_build.record(0x02, 0x5D, mbus_build.le(4000, 2))
            body += mbus_build.record(0x04, 0x2B, mbus_build.le(2500, 4))  # 2500 W
            body += mbus_build.record(0x04, 0x3B, mbus_build.le(410, 4))  # 410 L/h
            self.next = 0
        out = mbus.long_frame(0x08, 7, 0x72, head + body)
        self.last = (fcb, out)
        return out

    def read(self, n):
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def wait(self, timeout_ms):
        if self.pending:
            return True
        self.clock.advance(timeout_ms)
        return False

    def close(self):
        pass


def test_client_reads_two_telegrams_toggling_fcb_and_finds_the_address():
    clock = ManualClock()
    line = Slave(clock)
    meter = mbus.Meter(bus.Bus(line, clock))
    assert meter.read_address() == 7
    header, records = meter.read()
    assert header.man == "KAM" and len(records) == 7
    reqs = [r for r in line.requests if r[0] == 0x10]
    # SND_NKE FE, REQ_UD2 FE (FCB 1); then SND_NKE 7, REQ_UD2 7 with FCB 1, 0: no FE wake-up
    assert [r[1:3] for r in reqs] == [
        b"\x40\xfe",
        b"\x7b\xfe",
        b"\x40\x07",
        b"\x7b\x07",
        b"\x5b\x07",
    ]
    assert line.requests[0] == mbus.snd_nke(0xFE)
    line.next = 1  # a readout cut short (the device reset after telegram 1)
    header, records = meter.read()
    assert len(records) == 7 and records[0].quantity == "energy"  # telegram 1 again


def test_secondary_selection_with_wildcards_and_broadcast():
    clock = ManualClock()
    line = Slave(clock)
    meter = mbus.Meter(bus.Bus(line, clock, retries=0, timeout_ms=200))
    meter.select("1234FFFF")
    assert meter.address == mbus.ADDR_SELECTED
    header, records = meter.read()
    assert header.ident == "12345678" and records[0].scaled(0) == 1234000
    try:
        mbus.Meter(bus.Bus(line, clock, retries=0, timeout_ms=200)).select("9999FFFF")
    except bus.MeterTimeout:
        pass
    else:
        raise AssertionError("a selection that matches nobody got an answer")
    n = len(line.requests)
    meter.reset(mbus.ADDR_BROADCAST)  # no reply expected: returns at once
    assert len(line.requests) == n + 1 and line.requests[-1] == mbus.snd_nke(0xFF)


def test_heat_mbus_profile_records_and_a_silent_meter():
    from nbkit.app import busmeter

    assert "mbus" in protocols.PROTOCOLS and protocols.codec("mbus") is mbus
    clock = ManualClock()
    line = Slave(clock)
    meter = busmeter.MbusMeter(line, clock)
    got = dict(meter.read())
    assert got[codes.ENERGY_WH] == 1234000 and got[codes.WATER_L] == 56789, got
    assert got[codes.TEMP_CC] == 7012 and got[codes.TEMP_RETURN_CC] == 4000
    assert len(got) == 4, got  # power and flow are not queued
    assert meter.state() == (7,)
    import sys

    assert "nbkit.sense.mbus_data" not in sys.modules  # released for the report's heap
    line.silent = True
    assert meter.read() == [(codes.METER_ERROR, busmeter.NO_REPLY)]
