# CJ/T 188-2004 codec on captured frames (sources in meter_vectors.py). Runs in MicroPython;
# tests/host/test_meter_codecs.py runs these same functions in CPython.
import meter_vectors as V
from nbkit.sense import bus, cjt188


def test_captured_read_address_request_is_what_we_encode():
    # the captured master sends meter type 10 and DI low byte first; we build the same bytes
    ours = cjt188.encode(0x10, cjt188.WILDCARD, cjt188.C_READ_ADDR, cjt188.DI_ADDRESS, 0xA7)
    assert ours == V.CJT_READ_ADDR_REQ, ours


def test_captured_read_request_is_what_we_encode():
    ours = cjt188.encode(0x10, cjt188.WILDCARD, cjt188.C_READ_DATA, cjt188.DI_CURRENT, 0xAA)
    assert b"\xfe\xfe" + ours == V.CJT_CURRENT_REQ, ours


def test_captured_address_reply_gives_the_printed_meter_id():
    f = cjt188.decode(V.CJT_READ_ADDR_REPLY)
    assert f.address == "78330123456789", f.address
    assert f.meter_type == cjt188.TYPE_COLD_WATER
    assert f.control == 0x83 and f.is_reply() and not f.is_abnormal()
    assert f.function() == cjt188.C_READ_ADDR
    assert f.di == cjt188.DI_ADDRESS and f.di_lsb_first
    assert f.ser == 0xA7


def test_di_high_byte_first_is_parsed_too():
    f = cjt188.decode(V.CJT_AIXI_ADDR_REPLY)
    assert f.di == cjt188.DI_ADDRESS and not f.di_lsb_first, (f.di, f.di_lsb_first)
    assert f.address == "00000000000012", f.address


def test_captured_current_data_reply():
    f = cjt188.decode(V.CJT_CURRENT_REPLY)
    assert f.di == cjt188.DI_CURRENT and not f.di_lsb_first
    assert f.address == "78331505104145", f.address
    r = cjt188.parse_current(f.data)
    assert r.total == 595900, r.total  # 5959.00 m3, BCD LSB first, 0.01 resolution
    assert r.unit == cjt188.UNIT_M3 and r.unit_name() == "m3"
    assert r.settle is None, r.settle  # FF FF FF FF: not set
    assert r.clock is None
    assert r.valve == "open" and not r.battery_low


def test_real_reply_with_a_wrong_checksum_is_rejected():
    try:
        cjt188.decode(V.CJT_BAD_CS_REPLY)
    except bus.FrameError as e:
        assert e.reason == bus.BAD_CHECKSUM, e.reason
        assert "0x08" in str(e) and "0x13" in str(e), str(e)
        return
    raise AssertionError("accepted a frame with a wrong checksum")


def test_malformed_frames_are_rejected_with_their_reason():
    for name, raw, reason in V.malformed(V.CJT_READ_ADDR_REPLY):
        try:
            cjt188.decode(raw)
        except bus.FrameError as e:
            assert e.reason == reason, (name, e.reason, reason)
            continue
        raise AssertionError("accepted: " + name)


def test_wrong_length_byte_is_reported_as_bad_length():
    for delta in (1, -1):
        try:
            cjt188.decode(V.with_length(V.CJT_CURRENT_REPLY, cjt188.LEN_AT, delta))
        except bus.FrameError as e:
            assert e.reason == bus.BAD_LENGTH, (delta, e.reason)
            continue
        raise AssertionError("accepted L off by %d" % delta)


def test_any_number_of_wake_up_bytes_and_noise_before_the_frame():
    raw = V.CJT_READ_ADDR_REPLY[2:]
    for pre in (b"", b"\xfe", b"\xfe" * 4, b"\xfe" * 9, b"\x00\x55\xfe\xfe"):
        assert cjt188.decode(pre + raw).address == "78330123456789", pre


def test_current_data_round_trip_with_clock_and_status():
    data = cjt188.current_data(12345678, settle=1000, clock=(2026, 11, 25, 13, 5, 9), status=5)
    r = cjt188.parse_current(data)
    assert (r.total, r.settle, r.clock) == (12345678, 1000, (2026, 11, 25, 13, 5, 9)), r
    assert r.valve == "closed" and r.battery_low, (r.valve, r.battery_low)
    assert cjt188.fixed2(r.total) == "123456.78"


def test_status_bits_are_vendor_configurable():
    xijunzhou = cjt188.StatusMap(valve_shift=6, battery_mask=0x20)
    assert xijunzhou.valve(0x40) == "closed" and xijunzhou.battery_low(0x20)
    assert cjt188.DEFAULT_STATUS.valve(0x40) == "open"


def test_abnormal_reply_becomes_a_meter_error_with_the_status():
    f = cjt188.decode(V.CJT_ABNORMAL_REPLY)
    assert f.is_abnormal() and f.ser == 5
    try:
        cjt188.raise_if_abnormal(f)
    except cjt188.MeterError as e:
        assert (e.control, e.status, e.ser) == (0xC1, 0x0004, 5), (e.control, e.status)
        assert "0xC1" in str(e)
        return
    raise AssertionError("abnormal reply not raised")


def test_address_and_bcd_helpers_reject_bad_input():
    for bad in ("123", "1234567890123X"):
        try:
            cjt188.address_bytes(bad)
        except ValueError:
            continue
        raise AssertionError("accepted address " + bad)
    try:
        cjt188.bcd_encode(100000000, 4)
    except ValueError:
        return
    raise AssertionError("9 digits fitted in 4 BCD bytes")


def test_stream_scanner_resyncs_on_garbage_and_waits_for_partial_frames():
    good = V.CJT_READ_ADDR_REPLY[2:]
    kind, start, size = bus.scan(b"\x68\x10\x00\x01\x02" + good[:5], cjt188.LAYOUT)
    assert kind == bus.NEED, kind
    stream = bytearray(b"\x12\x68\x99" + V.CJT_BAD_CS_REPLY[4:] + good)
    frames = []
    while stream:
        kind, start, size = bus.scan(stream, cjt188.LAYOUT)
        if kind == bus.NEED:
            break
        if kind == bus.BAD:
            stream = stream[start + 1 :]
            continue
        frames.append(bytes(stream[start : start + size]))
        stream = stream[start + size :]
    assert frames == [good], frames
