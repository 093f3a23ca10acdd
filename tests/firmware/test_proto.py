# Payload codec and HMAC under MicroPython: the shared vectors (same bytes as the CPython test
# tests/host/test_proto_vectors.py) and the codec's behaviour at its edges.
import json
from binascii import hexlify, unhexlify

from nbkit.proto import auth, codes, frame

HEAPSIZE = "96K"  # compiling frame.py from source plus the vector file
KEY = bytes(range(16))
T = 1764000000


def _vectors():
    with open("tests/vectors/proto_vectors.json") as f:
        return json.load(f)


def _reason(data):
    try:
        frame.parse(data)
    except frame.FrameError as exc:
        return exc.reason
    return None


def test_hmac_matches_the_shared_vectors():
    for case in _vectors()["hmac"]:
        mac = auth.hmac_sha256(unhexlify(case["key"]), unhexlify(case["msg"]))
        assert hexlify(mac).decode() == case["mac"], case


def test_data_frames_are_byte_identical_to_the_shared_vectors():
    for case in _vectors()["data"]:
        records = [tuple(r) for r in case["records"]]
        key = unhexlify(case["key"])
        data, n = frame.encode_data(
            case["device"], key, records, case["max_size"], epoch=case["epoch"]
        )
        assert hexlify(data).decode() == case["frame"], case["name"]
        assert n == case["packed"], (case["name"], n)
        assert frame.decode_data(data, key) == (case["device"], records[:n]), case["name"]


def test_ack_frames_are_byte_identical_to_the_shared_vectors():
    for case in _vectors()["ack"]:
        key = unhexlify(case["key"])
        uplink = unhexlify(case["uplink"])
        data = frame.encode_ack(
            case["device"], key, case["first"], case["count"], epoch=case["epoch"], uplink=uplink
        )
        assert hexlify(data).decode() == case["frame"], case
        last = case["first"] + case["count"] - 1
        assert frame.decode_ack(data, key, case["device"]) == (case["first"], last)
    for case in _vectors()["epoch"]:
        key, uplink = unhexlify(case["key"]), unhexlify(case["uplink"])
        data = frame.encode_epoch(case["device"], key, case["epoch"], uplink)
        assert hexlify(data).decode() == case["frame"], case


def test_bad_frames_are_refused_with_their_reason():
    vec = _vectors()
    for case in vec["bad"]:
        assert _reason(unhexlify(case["frame"])) == case["reason"], case
    forged = unhexlify(vec["forged"]["frame"])
    try:
        frame.decode_data(forged, unhexlify(vec["forged"]["key"]))
    except frame.FrameError as exc:
        assert exc.reason == frame.FORGED, exc.reason
    else:
        raise AssertionError("a frame with a flipped tag bit was accepted")


def test_one_reading_fits_25_bytes_at_the_stated_bounds():
    big = (1 << 21) - 1
    for value in (-(1 << 27), (1 << 27) - 1, 0, 123456):
        record = [(big, 0xFFFFFFFF, codes.WATER_L, value)]
        data, n = frame.encode_data(big, KEY, record, epoch=127)
        assert n == 1 and len(data) <= 25, (value, len(data))


def test_encoder_packs_as_many_records_as_fit_and_the_rest_follow():
    records = [(i, T + 900 * i, codes.WATER_L, 50000 + 40 * i) for i in range(140)]
    sent = []
    while len(sent) < len(records):
        data, n = frame.encode_data(9, KEY, records[len(sent) :])
        assert len(data) <= frame.MAX_FRAME, len(data)
        assert n <= frame.MAX_RECORDS, n
        sent += frame.decode_data(data, KEY)[1]
    assert sent == records


def test_a_sequence_gap_ends_the_frame():
    records = [(5, T, codes.GAS_L, 1), (6, T + 1, codes.GAS_L, 2), (9, T + 2, codes.GAS_L, 3)]
    data, n = frame.encode_data(3, KEY, records)
    assert n == 2, n


def test_ack_for_another_device_or_key_cannot_clear_the_queue():
    ack = frame.encode_ack(5, KEY, 10, 4)
    for key, dev, reason in ((KEY, 6, frame.WRONG_DEVICE), (bytes(16), 5, frame.FORGED)):
        try:
            frame.decode_ack(ack, key, dev)
        except frame.FrameError as exc:
            assert exc.reason == reason, (exc.reason, reason)
        else:
            raise AssertionError("ack accepted by device %d" % dev)


def _refused(reply, sent, reason, key=KEY):
    try:
        frame.check_reply(reply, key, sent)
    except frame.FrameError as exc:
        assert exc.reason == reason, (exc.reason, reason)
    else:
        raise AssertionError("reply accepted: " + reason)


def test_an_ack_is_bound_to_the_uplink_it_answers():
    # issue 16, finding 4: a replayed old ack must clear nothing
    old, _ = frame.encode_data(5, KEY, [(10, T, codes.WATER_L, 1)])
    new, _ = frame.encode_data(5, KEY, [(10, T + 900, codes.WATER_L, 2)], epoch=1)
    assert frame.check_reply(frame.ack_for(new, KEY), KEY, new) == (frame.ACK, 10, 10)
    _refused(frame.ack_for(old, KEY), new, frame.UNBOUND)  # same seq, old frame: a replay
    _refused(frame.ack_for(new, bytes(16)), new, frame.FORGED)
    other, _ = frame.encode_data(6, KEY, [(10, T, codes.WATER_L, 1)])
    _refused(frame.ack_for(other, KEY), new, frame.WRONG_DEVICE)
    tag = new[-frame.TAG_SIZE :]
    wide = frame.encode_ack(5, KEY, 0, 100, epoch=1, uplink=tag)  # right tag, more records
    _refused(wide, new, frame.MALFORMED)
    stale = frame.encode_ack(5, KEY, 10, 1, epoch=0, uplink=tag)  # right tag, other epoch
    _refused(stale, new, frame.MALFORMED)


def test_an_epoch_answer_is_bound_too():
    sent, _ = frame.encode_data(5, KEY, [(0, T, codes.WATER_L, 1)])
    answer = frame.encode_epoch(5, KEY, 4, sent[-frame.TAG_SIZE :])
    assert frame.check_reply(answer, KEY, sent) == (frame.EPOCH, 4, None)
    later, _ = frame.encode_data(5, KEY, [(0, T + 1, codes.WATER_L, 1)])
    _refused(answer, later, frame.UNBOUND)


def test_a_data_frame_is_never_taken_for_an_ack():
    data, _ = frame.encode_data(5, KEY, [(10, T, codes.WATER_L, 1)])
    try:
        frame.decode_ack(data, KEY, 5)
    except frame.FrameError as exc:
        assert exc.reason == frame.BAD_TYPE, exc.reason
    else:
        raise AssertionError("data frame decoded as an ack")


def test_every_flipped_bit_is_detected():
    data, _ = frame.encode_data(1042, KEY, [(1, T, codes.WATER_L, 77), (2, T + 60, codes.LEAK, 1)])
    for i in range(len(data) * 8):
        bad = bytearray(data)
        bad[i // 8] ^= 1 << (i % 8)
        try:
            frame.decode_data(bytes(bad), KEY)
        except frame.FrameError:
            continue
        raise AssertionError("bit %d flipped and still accepted" % i)


def test_records_round_trip_through_their_queue_form():
    packed = frame.pack_record(T, codes.RSRP_DBM, -101)
    assert len(packed) == frame.RECORD_SIZE, len(packed)
    pending = [(7, packed), (8, frame.pack_record(T + 5, codes.WATER_L, 3))]
    assert frame.records_from_pending(pending) == [
        (7, T, codes.RSRP_DBM, -101),
        (8, T + 5, codes.WATER_L, 3),
    ]


def test_values_outside_32_bits_are_refused_by_the_encoder():
    for value in (1 << 31, -(1 << 31) - 1):
        try:
            frame.encode_data(1, KEY, [(1, T, codes.WATER_L, value)])
        except ValueError:
            continue
        raise AssertionError("value %d encoded" % value)


def test_codes_have_names_and_units():
    assert codes.name(codes.WATER_L) == "water" and codes.unit(codes.WATER_L) == "L"
    assert codes.name(0x7E) == "code_0x7e"
    assert codes.is_event(codes.SMOKE_ALARM) and not codes.is_event(codes.BATTERY_MV)
