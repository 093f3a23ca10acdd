# DL/T 645-2007 codec on captured frames (sources in meter_vectors.py). Runs in MicroPython;
# tests/host/test_meter_codecs.py runs these same functions in CPython.
import meter_vectors as V
from nbkit.sense import bus, dlt645


def test_discovery_request_is_what_we_encode():
    ours = dlt645.encode(dlt645.WILDCARD, dlt645.C_READ_ADDR)
    assert b"\xfe" * 4 + ours == V.DLT_DISCOVER_REQ, ours


def test_captured_read_request_is_what_we_encode():
    ours = dlt645.encode("002241020208", dlt645.C_READ, dlt645.di_bytes(0x04000402))
    assert b"\xfe" * 4 + ours == V.DLT_METERNO_REQ, ours


def test_captured_address_replies():
    cases = (
        (V.DLT_ADDR_REPLY, "000000000001"),
        (V.DLT_ADDR_REPLY_2, "181226034194"),
        (V.DLT_ADDR_REPLY_3, "000332316420"),
    )
    for raw, address in cases:
        f = dlt645.decode(raw)
        assert f.control == 0x93 and f.is_reply() and not f.is_abnormal(), f
        # the meter's address is in the header and, scrambled +0x33, in the data
        assert f.address == address, (f.address, address)
        assert dlt645.address_str(f.data) == address, f.data


def test_data_offset_0x33_is_removed_mod_256():
    assert dlt645.unscramble(b"\x33\x32\x00\xff") == b"\x00\xff\xcd\xcc"
    assert dlt645.scramble(b"\x00\xff\xcd\xcc") == b"\x33\x32\x00\xff"


def test_captured_forward_active_energy():
    f = dlt645.decode(V.DLT_FORWARD_REPLY)
    assert f.di == dlt645.DI_FORWARD_ACTIVE, f.di
    value, decimals, unit = dlt645.value_of(f.di, f.data[4:])
    assert (value, decimals, unit) == (11228026, 2, "kWh"), value
    assert dlt645.fixed(value, decimals) == "112280.26"
    f = dlt645.decode(V.DLT_FORWARD_REPLY_2)
    assert dlt645.value_of(f.di, f.data[4:])[0] == 26  # 0.26 kWh
    assert f.address == "181226034194"


def test_captured_meter_number_read():
    req = dlt645.decode(V.DLT_METERNO_REQ)
    assert req.di == 0x04000402 and not req.is_reply()
    f = dlt645.decode(V.DLT_METERNO_REPLY)
    assert f.di == 0x04000402
    assert dlt645.value_of(f.di, f.data[4:])[0] == "002241020208"


def test_signed_values_and_formats():
    for di, value, text in (
        (dlt645.DI_ACTIVE_POWER, -11270, "-1.1270"),
        (dlt645.DI_CURRENT_A, 5123, "5.123"),
        (dlt645.DI_VOLTAGE_A, 2201, "220.1"),
        (dlt645.DI_REVERSE_ACTIVE, 5, "0.05"),
    ):
        raw = dlt645.encode_value(di, value)
        got, decimals, unit = dlt645.value_of(di, raw)
        assert got == value, (di, got, value)
        assert dlt645.fixed(got, decimals) == text, (dlt645.fixed(got, decimals), text)


def test_abnormal_reply_becomes_a_meter_error_with_the_error_byte():
    f = dlt645.decode(V.DLT_ABNORMAL_REPLY)
    assert f.is_abnormal() and f.di is None
    try:
        dlt645.raise_if_abnormal(f)
    except dlt645.MeterError as e:
        assert (e.control, e.error) == (0xD1, 0x02), (e.control, e.error)
        assert "no data requested" in str(e), str(e)
        return
    raise AssertionError("abnormal reply not raised")


def test_malformed_frames_are_rejected_with_their_reason():
    for name, raw, reason in V.malformed(V.DLT_FORWARD_REPLY_2):
        try:
            dlt645.decode(raw)
        except bus.FrameError as e:
            assert e.reason == reason, (name, e.reason, reason)
            continue
        raise AssertionError("accepted: " + name)


def test_wrong_length_byte_and_missing_second_start_byte():
    try:
        dlt645.decode(V.with_length(V.DLT_FORWARD_REPLY, dlt645.LEN_AT, 2))
    except bus.FrameError as e:
        assert e.reason == bus.BAD_LENGTH, e.reason
    else:
        raise AssertionError("accepted a wrong L")
    broken = bytearray(V.DLT_ADDR_REPLY)
    broken[7] = 0x69
    try:
        dlt645.decode(bytes(broken))
    except bus.FrameError as e:
        assert e.reason == bus.BAD_HEADER, e.reason
        return
    raise AssertionError("accepted a frame without its second 0x68")
