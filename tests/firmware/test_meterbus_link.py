# Meter-bus transport (nbkit.sense.bus.Bus) with the CJ/T 188 and DL/T 645 clients, over a
# scripted Transport on virtual time: timeout, retry, resync on garbage, bounded buffer,
# abnormal replies. Replies are captured frames from meter_vectors.py.
import meter_vectors as V
from nbkit.hal.clock import ManualClock
from nbkit.sense import bus, cjt188, dlt645


class ScriptedLine:
    # Transport contract: each write() releases the next scripted reply (a list of chunks,
    # delivered one per read, or None for silence); wait() moves virtual time when idle.
    def __init__(self, clock, replies):
        self.clock = clock
        self.replies = list(replies)
        self.pending = []
        self.writes = []

    def write(self, data):
        self.writes.append(bytes(data))
        reply = self.replies.pop(0) if self.replies else None
        if reply is not None:
            self.pending.extend(reply if isinstance(reply, list) else [reply])
        return len(data)

    def read(self, n):
        if not self.pending:
            return b""
        chunk = self.pending.pop(0)
        if len(chunk) > n:
            self.pending.insert(0, chunk[n:])
            chunk = chunk[:n]
        self.clock.advance(5)
        return chunk

    def wait(self, timeout_ms):
        if self.pending:
            return True
        self.clock.advance(timeout_ms)
        return False

    def close(self):
        pass


def _link(replies, retries=2, timeout_ms=1000):
    clock = ManualClock()
    line = ScriptedLine(clock, replies)
    return bus.Bus(line, clock, timeout_ms=timeout_ms, retries=retries), line, clock


def test_wildcard_read_address_then_read_current_data():
    # the data reply is constructed (the captured one is from another meter)
    data = cjt188.current_data(595900, status=1)
    reply = cjt188.encode(0x10, "78330123456789", 0x81, cjt188.DI_CURRENT, 2, data)
    link, line, _ = _link([V.CJT_READ_ADDR_REPLY, reply])
    m = cjt188.Meter(link)
    assert m.read_address() == "78330123456789"
    assert line.writes[0][:4] == b"\xfe\xfe\xfe\xfe" and line.writes[0][6:13] == b"\xaa" * 7
    r = m.read()
    assert (r.total, r.valve) == (595900, "closed"), r
    # the second request goes to the discovered address, DI low byte first by default
    sent = cjt188.decode(line.writes[1])
    assert sent.address == "78330123456789" and sent.di_lsb_first, sent


def test_di_byte_order_is_configurable():
    link, line, _ = _link([V.CJT_CURRENT_REPLY])
    m = cjt188.Meter(link, address="78331505104145", di_lsb_first=False)
    m.read()
    assert line.writes[0][15:17] == b"\x90\x1f", line.writes[0]


def test_silence_is_retried_then_answered():
    link, line, clock = _link([None, V.CJT_READ_ADDR_REPLY], timeout_ms=800)
    assert cjt188.Meter(link).read_address() == "78330123456789"
    assert len(line.writes) == 2 and link.stats[1] == 1, link.stats
    assert clock.ticks_ms() >= 800, clock.ticks_ms()


def test_no_reply_at_all_times_out_after_every_retry():
    link, line, clock = _link([None, None, None], retries=2, timeout_ms=500)
    try:
        cjt188.Meter(link).read()
    except bus.MeterTimeout as e:
        assert len(line.writes) == 3, line.writes
        assert clock.ticks_ms() == 1500, clock.ticks_ms()
        assert "3 attempts" in str(e)
        return
    raise AssertionError("no timeout")


def test_bad_checksum_reply_is_dropped_and_the_retry_succeeds():
    link, line, _ = _link([V.CJT_BAD_CS_REPLY, V.CJT_CURRENT_REPLY])
    assert cjt188.Meter(link, address="78331505104145").read().total == 595900
    assert len(line.writes) == 2


def test_garbage_and_split_chunks_resync_on_the_frame():
    r = V.CJT_CURRENT_REPLY
    chunks = [b"\x00\x68\x10\xff", b"\x68\x55", r[:7], r[7:20], r[20:]]
    link, line, _ = _link([chunks])
    assert cjt188.Meter(link, address="78331505104145").read().total == 595900
    assert len(line.writes) == 1
    assert link.stats[2] >= 6, link.stats  # the noise bytes were discarded


def test_echo_of_our_own_request_is_ignored():
    req = b"\xfe\xfe\xfe\xfe" + V.CJT_READ_ADDR_REQ
    link, line, _ = _link([[req, V.CJT_READ_ADDR_REPLY]])
    assert cjt188.Meter(link).read_address() == "78330123456789"


def test_endless_noise_keeps_the_buffer_bounded():
    link, line, _ = _link([[b"\x11" * 250] * 12], retries=0)
    try:
        cjt188.Meter(link).read()
    except bus.MeterTimeout:
        assert len(link.buf) <= bus.MAX_BUF, len(link.buf)
        assert link.stats[2] >= 2700, link.stats
        return
    raise AssertionError("noise produced a reading")


def test_abnormal_reply_raises_at_once_without_retry():
    link, line, _ = _link([V.CJT_ABNORMAL_REPLY, V.CJT_CURRENT_REPLY])
    try:
        cjt188.Meter(link, address="78330123456789").read()
    except cjt188.MeterError as e:
        assert e.status == 4 and len(line.writes) == 1, (e.status, line.writes)
        return
    raise AssertionError("abnormal reply accepted")


def test_reply_from_another_address_is_not_taken():
    link, line, _ = _link([V.CJT_CURRENT_REPLY, None], retries=1, timeout_ms=100)
    try:
        cjt188.Meter(link, address="11111111111111").read()
    except bus.MeterTimeout:
        return
    raise AssertionError("took another meter's reply")


def test_dlt645_discovery_and_energy():
    link, line, _ = _link([V.DLT_ADDR_REPLY, V.DLT_FORWARD_REPLY])
    m = dlt645.Meter(link)
    assert m.read_address() == "000000000001"
    assert line.writes[0] == V.DLT_DISCOVER_REQ, line.writes[0]
    assert m.read(dlt645.DI_FORWARD_ACTIVE) == (11228026, 2, "kWh")


def test_dlt645_reply_for_another_di_is_not_taken():
    link, line, _ = _link([V.DLT_METERNO_REPLY, V.DLT_FORWARD_REPLY], timeout_ms=100)
    m = dlt645.Meter(link, address="002241020208")
    try:
        m.read(dlt645.DI_FORWARD_ACTIVE)
    except bus.MeterTimeout:
        return
    raise AssertionError("a reply for DI 04000402 answered a read of 00010000")


def test_dlt645_abnormal_reply_raises_the_decoded_error():
    link, line, _ = _link([V.DLT_ABNORMAL_REPLY])
    try:
        dlt645.Meter(link, address="000000000001").read(0x02800002)
    except dlt645.MeterError as e:
        assert e.error == 2 and "no data requested" in str(e), str(e)
        return
    raise AssertionError("abnormal reply accepted")


def _lcg(seed):
    # deterministic byte source, the same in MicroPython and CPython
    state = [seed]

    def byte():
        state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return state[0] >> 16 & 0xFF

    return byte


def test_random_and_mutated_input_only_ever_raises_frame_error():
    rnd = _lcg(7)
    seeds = (V.CJT_CURRENT_REPLY, V.DLT_FORWARD_REPLY, V.CJT_READ_ADDR_REPLY)
    for i in range(300):
        base = bytearray(seeds[i % 3])
        for _ in range(1 + rnd() % 3):  # flip, cut or extend
            op = rnd() % 3
            if op == 0 and base:
                base[rnd() % len(base)] = rnd()
            elif op == 1 and len(base) > 2:
                base = base[: rnd() % len(base)]
            else:
                base.append(rnd())
        for codec in (cjt188, dlt645):
            try:
                codec.decode(bytes(base))
            except bus.FrameError:
                pass


def test_a_noisy_line_never_hangs_the_bus():
    rnd = _lcg(11)
    noise = [bytes(rnd() for _ in range(40)) for _ in range(20)]
    link, line, clock = _link([noise + [V.CJT_CURRENT_REPLY]], retries=0, timeout_ms=2000)
    r = cjt188.Meter(link, address="78331505104145").read()
    assert r.total == 595900 and len(link.buf) <= bus.MAX_BUF
