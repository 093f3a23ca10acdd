# Compact authenticated frames between a meter and the collector (one UDP datagram each).
# The same file runs in the firmware and on the host (`from nbkit.proto import frame`).
#
# Integers: "varint" is unsigned LEB128 (7 bits a byte, low first, at most 5 bytes = 32 bits);
# "zvarint" is a signed 32-bit value zigzag-mapped (0,-1,1,-2.. -> 0,1,2,3..) then varint.
#
# Boot epoch (version 2): a counter the device keeps on flash (nbkit.store.epoch) and bumps
# whenever its queue state was damaged or restored, so sequence numbers may start again. A record
# is named by (device, epoch, seq): a device that lost its counters moves to a new epoch instead
# of reusing names the collector already holds.
#
# DATA frame, device -> collector
# | offset | size | field                                                              |
# |--------|------|--------------------------------------------------------------------|
# | 0      | 1    | head: version << 4 | type   (0x21 = version 2, DATA)                |
# | 1      | 1-5  | device id, varint                                                  |
# | .      | 1-5  | epoch, varint                                                      |
# | .      | 1-5  | seq0: queue sequence number of record 0, varint (record i: seq0+i) |
# | .      | 4    | t0: time of record 0, u32 big-endian, seconds since 1970 UTC       |
# | .      | 2-6  | record 0: code u8, value zvarint                                   |
# | .      | 3-11 | record i>0: code u8, dt zvarint (s after record i-1), value zvarint |
# | -8     | 8    | tag: HMAC-SHA256(device key, every byte before the tag)[:8]        |
#
# ONE reading = 1 + id + epoch + seq + 4 + 1 + value + 8 = 14 + id + epoch + seq + value bytes,
# so at most 25 bytes while device id < 2^21, epoch < 128, seq < 2^21 (60 years of 15-minute
# readings) and -2^27 <= value < 2^27 (134 million litres); e.g. device 1042, epoch 0, seq 5000,
# 123456 L = 22 bytes. Each further 15-minute reading adds 1 + 2 + value bytes (about 6).
#
# ACK frame, collector -> device: "records first..first+count-1 of the uplink tagged U are stored"
# | 0      | 1    | head: version << 4 | type   (0x22 = version 2, ACK)                 |
# | 1      | 1-5  | device id, varint                                                  |
# | .      | 1-5  | epoch of the uplink, varint                                        |
# | .      | 1-5  | first acknowledged seq, varint                                     |
# | .      | 1-5  | count of acknowledged records, varint (1..MAX_RECORDS)             |
# | .      | 8    | U: the tag of the DATA frame this ack answers                      |
# | -8     | 8    | tag: HMAC-SHA256(device key, every byte before the tag)[:8]        |
#
# EPOCH frame, collector -> device: "(epoch, seq) of the uplink tagged U name records I hold with
# other content: use epoch E or above" (the answer to a device whose counters went back)
# | 0      | 1    | head: version << 4 | type   (0x23 = version 2, EPOCH)               |
# | 1      | 1-5  | device id, varint                                                  |
# | .      | 1-5  | E: the lowest epoch the device may use from now on, varint         |
# | .      | 8    | U: the tag of the DATA frame this answers                          |
# | -8     | 8    | tag: HMAC-SHA256(device key, every byte before the tag)[:8]        |
#
# The head byte is inside the tagged bytes, so a DATA frame can never pass for an ACK. The
# device checks id, tag and U (check_reply): an ack or epoch answer is bound to the one uplink it
# answers, so a replayed old ack (another U) or a forged one clears nothing. U is the uplink's
# own tag, unique per frame content under the key: a fresh nonce the device does not have to
# store. decode_ack() checks only id and tag (host tools and tests).
import struct

from nbkit.proto import auth

try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


VERSION = const(2)
DATA = const(1)
ACK = const(2)
EPOCH = const(3)
TAG_SIZE = const(8)
# Bound of one uplink: the smallest AT+NSOST payload limit among BC95/BC28 firmwares (512 bytes
# on early BC95 builds, 1358 on BC95-G/BC28); one frame then also fits a single NB-IoT TB chain.
MAX_FRAME = const(512)
MAX_RECORDS = const(128)
MIN_DATA = const(1 + 1 + 1 + 1 + 4 + 2 + TAG_SIZE)  # smallest possible DATA frame: 18 bytes
MIN_ACK = const(1 + 1 + 1 + 1 + 1 + 2 * TAG_SIZE)
MIN_EPOCH = const(1 + 1 + 1 + 2 * TAG_SIZE)
_U32 = const(0xFFFFFFFF)
_I32_MIN = const(-0x80000000)
_I32_MAX = const(0x7FFFFFFF)
RECORD_SIZE = const(9)  # pack_record(): t u32, code u8, value i32 (little-endian)

# Reasons a frame is refused (FrameError.reason); the collector counts by these names.
TRUNCATED = "truncated"
OVERSIZED = "oversized"
BAD_VERSION = "bad_version"
BAD_TYPE = "bad_type"
MALFORMED = "malformed"
FORGED = "forged"
WRONG_DEVICE = "wrong_device"
UNBOUND = "unbound"  # an authentic ack or epoch answer, but for another uplink (a replay)


class FrameError(ValueError):
    # A frame that must be refused; .reason is one of the names above.
    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


# -- integers -----------------------------------------------------------------


def _put_varint(out, n):
    if n < 0 or n > _U32:
        raise ValueError("varint out of range: %d" % n)
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _put_zvarint(out, v):
    if v < _I32_MIN or v > _I32_MAX:
        raise ValueError("value out of 32-bit range: %d" % v)
    _put_varint(out, (v << 1) if v >= 0 else ((-v) << 1) - 1)


def _get_varint(buf, pos, end):
    n = 0
    shift = 0
    while True:
        if pos >= end:
            raise FrameError(TRUNCATED, "frame ends inside a number at byte %d" % pos)
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 28:
            raise FrameError(MALFORMED, "number longer than 5 bytes at byte %d" % pos)
    if n > _U32:
        raise FrameError(MALFORMED, "number above 32 bits at byte %d" % pos)
    return n, pos


def _get_zvarint(buf, pos, end):
    n, pos = _get_varint(buf, pos, end)
    return (n >> 1) if not n & 1 else -((n + 1) >> 1), pos


def varint_size(n):
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


# -- records kept in the durable queue ------------------------------------------------


def pack_record(t, code, value):
    # Fixed 9-byte form a reading/event is stored in on flash until it is acknowledged.
    if not 0 <= code <= 0xFF:
        raise ValueError("code must be one byte: %d" % code)
    return struct.pack("<IBi", t, code, value)


def unpack_record(data):
    return struct.unpack("<IBi", data)


def records_from_pending(pending):
    # queue.pending() [(seq, packed)] -> [(seq, t, code, value)] for encode_data().
    return [(seq,) + tuple(unpack_record(data)) for seq, data in pending]


# -- encoding -------------------------------------------------------------------


def _zz(v):
    if v < _I32_MIN or v > _I32_MAX:
        raise ValueError("value out of 32-bit range: %d" % v)
    return (v << 1) if v >= 0 else ((-v) << 1) - 1


def _head(ftype, device_id):
    out = bytearray()
    out.append(VERSION << 4 | ftype)
    _put_varint(out, device_id)
    return out


def _seal(key, out):
    out.extend(auth.tag(key, out, TAG_SIZE))
    return bytes(out)


def encode_data(device_id, key, records, max_size=MAX_FRAME, epoch=0):
    # records: list of (seq, t, code, value), oldest first (queue order). Packs the longest run
    # of consecutive sequence numbers from records[0] that fits max_size bytes. epoch: the
    # device's boot epoch (nbkit.store.epoch).
    # -> (frame, number of records packed). ValueError when there is nothing to pack.
    if not records:
        raise ValueError("no records to encode")
    limit = min(max_size, MAX_FRAME) - TAG_SIZE
    seq0, t0, code, value = records[0]
    if not 0 <= t0 <= _U32 or not 0 <= code <= 0xFF:
        raise ValueError("bad record 0: t=%d code=%d" % (t0, code))
    out = _head(DATA, device_id)
    _put_varint(out, epoch)
    _put_varint(out, seq0)
    out.extend(struct.pack(">I", t0))
    out.append(code)
    _put_varint(out, _zz(value))
    if len(out) > limit:
        raise ValueError("max_size %d is below one record (%d)" % (max_size, len(out) + TAG_SIZE))
    n = 1
    prev_t = t0
    for seq, t, code, value in records[1:MAX_RECORDS]:
        dt = t - prev_t
        if seq != seq0 + n or not 0 <= t <= _U32 or not 0 <= code <= 0xFF:
            break  # a gap or an odd record starts the next frame
        if dt < _I32_MIN or dt > _I32_MAX:
            break  # a clock jump of more than 68 years: next frame, fresh t0
        zdt = _zz(dt)
        zv = _zz(value)
        if len(out) + 1 + varint_size(zdt) + varint_size(zv) > limit:
            break
        out.append(code)
        _put_varint(out, zdt)
        _put_varint(out, zv)
        n += 1
        prev_t = t
    return _seal(key, out), n


def _uplink_tag(uplink):
    if len(uplink) != TAG_SIZE:
        raise ValueError("uplink tag must be %d bytes" % TAG_SIZE)
    return uplink


def encode_ack(device_id, key, first, count, *, epoch=0, uplink=b"\x00" * TAG_SIZE):
    # Acknowledge records first..first+count-1 of device_id's epoch, answering the DATA frame
    # whose tag is uplink (ack_for() fills both from the frame).
    if not 1 <= count <= MAX_RECORDS:
        raise ValueError("ack count must be 1..%d: %d" % (MAX_RECORDS, count))
    out = _head(ACK, device_id)
    _put_varint(out, epoch)
    _put_varint(out, first)
    _put_varint(out, count)
    out.extend(_uplink_tag(uplink))
    return _seal(key, out)


def ack_for(data, key):
    # The ack of a whole DATA frame (its records, its epoch, its tag). Check the frame first.
    _, device_id, epoch, records = parse(data)
    return encode_ack(
        device_id, key, records[0][0], len(records), epoch=epoch, uplink=data[-TAG_SIZE:]
    )


def encode_epoch(device_id, key, epoch, uplink):
    # Tell device_id to use epoch `epoch` or above, answering the DATA frame tagged uplink.
    out = _head(EPOCH, device_id)
    _put_varint(out, epoch)
    out.extend(_uplink_tag(uplink))
    return _seal(key, out)


# -- decoding ---------------------------------------------------------------------------


def parse(frame):
    # Structure check without the key -> (type, device_id, epoch, body); body is the record list
    # [(seq, t, code, value)] of a DATA frame, (first, count, uplink tag) of an ACK, the uplink
    # tag of an EPOCH frame. The tag is NOT checked here: call verify() with the device's key
    # before trusting anything.
    n = len(frame)
    if n > MAX_FRAME:
        raise FrameError(OVERSIZED, "frame of %d bytes exceeds %d" % (n, MAX_FRAME))
    if n < MIN_DATA:
        raise FrameError(TRUNCATED, "frame of %d bytes is below the minimum %d" % (n, MIN_DATA))
    head = frame[0]
    if head >> 4 != VERSION:
        raise FrameError(BAD_VERSION, "frame version %d, expected %d" % (head >> 4, VERSION))
    ftype = head & 0x0F
    end = n - TAG_SIZE
    if ftype not in (DATA, ACK, EPOCH):
        raise FrameError(BAD_TYPE, "unknown frame type %d" % ftype)
    device_id, pos = _get_varint(frame, 1, end)
    epoch, pos = _get_varint(frame, pos, end)
    if ftype == DATA:
        body = _parse_data(frame, pos, end)
    elif ftype == ACK:
        body = _parse_ack(frame, pos, end)
    else:
        body = _parse_epoch(frame, pos, end)
    return ftype, device_id, epoch, body


def _parse_data(buf, pos, end):
    seq0, pos = _get_varint(buf, pos, end)
    if pos + 4 > end:
        raise FrameError(TRUNCATED, "frame ends inside the timestamp")
    t = struct.unpack(">I", buf[pos : pos + 4])[0]
    pos += 4
    records = []  # type: list
    while pos < end:
        if len(records) >= MAX_RECORDS:
            raise FrameError(MALFORMED, "more than %d records" % MAX_RECORDS)
        code = buf[pos]
        pos += 1
        if records:
            dt, pos = _get_zvarint(buf, pos, end)
            t += dt
        value, pos = _get_zvarint(buf, pos, end)
        seq = seq0 + len(records)
        if not 0 <= t <= _U32 or seq > _U32:
            raise FrameError(MALFORMED, "record %d: time or sequence out of range" % len(records))
        records.append((seq, t, code, value))
    if not records:
        raise FrameError(TRUNCATED, "data frame carries no record")
    return records


def _parse_ack(buf, pos, end):
    first, pos = _get_varint(buf, pos, end)
    count, pos = _get_varint(buf, pos, end)
    uplink = _parse_epoch(buf, pos, end)
    if not 1 <= count <= MAX_RECORDS or first + count - 1 > _U32:
        raise FrameError(MALFORMED, "ack range %d+%d out of bounds" % (first, count))
    return first, count, uplink


def _parse_epoch(buf, pos, end):
    # the uplink tag that ends ACK and EPOCH bodies
    if end - pos < TAG_SIZE:
        raise FrameError(TRUNCATED, "frame ends inside the uplink tag")
    if end - pos > TAG_SIZE:
        raise FrameError(MALFORMED, "%d stray bytes after the uplink tag" % (end - pos - TAG_SIZE))
    return bytes(buf[pos:end])


def verify(frame, key):
    # True when the frame's tag was made with key.
    tag = auth.tag(key, frame[:-TAG_SIZE], TAG_SIZE)
    return auth.equal(tag, frame[-TAG_SIZE:])


def decode_data(frame, key):
    # Parse and authenticate a DATA frame -> (device_id, [(seq, t, code, value)]).
    ftype, device_id, _epoch, records = parse(frame)
    if ftype != DATA:
        raise FrameError(BAD_TYPE, "expected a data frame, got type %d" % ftype)
    if not verify(frame, key):
        raise FrameError(FORGED, "tag does not match device %d's key" % device_id)
    return device_id, records


def _authentic(frame, key, device_id, ftype):
    # -> (type, epoch, body) of an ACK/EPOCH frame from device_id's collector
    got, dev, epoch, body = parse(frame)
    if got not in ftype:
        raise FrameError(BAD_TYPE, "expected an ack, got type %d" % got)
    if dev != device_id:
        raise FrameError(WRONG_DEVICE, "ack for device %d, this is %d" % (dev, device_id))
    if not verify(frame, key):
        raise FrameError(FORGED, "ack tag does not match this device's key")
    return got, epoch, body


def decode_ack(frame, key, device_id):
    # Parse and authenticate an ACK meant for device_id -> (first, last) seq. NOT bound to an
    # uplink: a device uses check_reply(), which is.
    _, _, body = _authentic(frame, key, device_id, (ACK,))
    return body[0], body[0] + body[1] - 1


def check_reply(reply, key, sent):
    # On the device: a reply to the DATA frame `sent` (bytes as sent) -> (ACK, first, last) or
    # (EPOCH, lowest epoch to use, None). FrameError when forged, for another device, or for
    # another uplink (UNBOUND: e.g. a replayed old ack), or naming records `sent` did not carry.
    device_id, epoch, seq0, n = _span(sent)
    ftype, got_epoch, body = _authentic(reply, key, device_id, (ACK, EPOCH))
    uplink = body if ftype == EPOCH else body[2]
    if not auth.equal(uplink, sent[-TAG_SIZE:]):
        raise FrameError(UNBOUND, "answers another uplink (a replayed or stale reply)")
    if ftype == EPOCH:
        return EPOCH, got_epoch, None
    first, count = body[0], body[1]
    if got_epoch != epoch or first < seq0 or first + count > seq0 + n:
        raise FrameError(MALFORMED, "ack names records the uplink did not carry")
    return ACK, first, first + count - 1


def _span(data):
    # A DATA frame this device made -> (device_id, epoch, seq0, record count), walking it
    # without building the record list (the uplink's own list may still fill a small heap).
    end = len(data) - TAG_SIZE
    device_id, pos = _get_varint(data, 1, end)
    epoch, pos = _get_varint(data, pos, end)
    seq0, pos = _get_varint(data, pos, end)
    pos += 4
    n = 0
    while pos < end:
        pos += 1  # code
        if n:
            pos = _get_varint(data, pos, end)[1]  # dt
        pos = _get_varint(data, pos, end)[1]  # value
        n += 1
    return device_id, epoch, seq0, n
