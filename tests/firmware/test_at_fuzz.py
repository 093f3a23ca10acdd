# Fuzz: 10,000+ garbled modem byte streams through the AT engine and the BC95 URC handlers.
# Real exchanges are mutated (bytes flipped, cut, duplicated, CR/LF/garbage inserted, long lines,
# URCs and counted raw payloads spliced in) and fed in random splits. Required: no exception
# escapes, every command ends (OK / ERROR / CME / CMS / TIMEOUT), heap use stays bounded.
import gc

from fakes import StreamModem
from nbkit.at.engine import Engine
from nbkit.hal.clock import ManualClock
from nbkit.modem.bc95 import Bc95

TIMEOUT_S = 60
# The harness builds multi-kilobyte mutated streams all the time and MicroPython's heap never
# compacts, so it gets room to fragment; the engine's own bound is HEAP_BOUND, checked below.
HEAPSIZE = "256K"
STREAMS = 10000
HEAP_BOUND = 24 * 1024  # bytes allocated above the baseline, checked after gc.collect()

EXCHANGES = (
    ("AT", None, b"\r\nOK\r\n"),
    ("AT+CSQ", "+CSQ:", b"\r\n+CSQ:18,99\r\n\r\nOK\r\n"),
    ("AT+CIMI", "", b"AT+CIMI\r\r\n460111175090234\r\n\r\nOK\r\n"),
    ("AT+CFUN=1", None, b"\r\n+CEREG:0,0000,00000000,9\r\nOK\r\n"),
    ("AT+NCONFIG?", "+NCONFIG:", b"\r\n+NCONFIG:AUTOCONNECT,TRUE\r\n+CSCON:1\r\n\r\nOK\r\n"),
    ("AT+NSORF=1,512", "", b"\r\n1,10.0.0.9,5683,12,48656C6C6F20576F726C6421,0\r\n\r\nOK\r\n"),
    ("AT+NSOST=1,10.0.0.9,5683,1,61", "", b"\r\n+CME ERROR: 159\r\n"),
    (
        "AT+CEREG?",
        "+CEREG:",
        b'\r\n+CEREG: 4,1,"0000","00000000",9,,,"00100100","01000111"\r\nOK\r\n',
    ),
    (
        "AT+NRB",
        "REBOOTING",
        b"\r\nREBOOTING\r\n\x00H\xc3?\r\nREBOOT_CAUSE_APPLICATION_AT\r\nNeul\r\nOK\r\n",
    ),
    ("AT+A;+B", None, b"\r\nOK\r\n\r\nOK\r\n"),
    ("AT+QISEND=0,3", None, b"\r\n> "),
)
URCS = (
    b"\r\n+NSONMI:1,12\r\n",
    b"\r\n+NSONMI:0,10.0.0.1,5683,2,A101\r\n",
    b"\r\n+CSCON:0\r\n",
    b"\r\n+NPSMR:1\r\n",
    b"\r\n+NSOCLI:2\r\n",
    b'\r\n+CEREG:1,"1A2B","0012BEEF",9,0,0,"00000101","00111000"\r\n',
    b'\r\n+QIURC: "recv",0,6\r\n\r\nOK\r\n+CSCON:1\r\n',
)


class Rng:
    # xorshift32: the same sequence on every port, seeded.

    def __init__(self, seed):
        self.s = seed or 1

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def below(self, n):
        return self.next() % n


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.below(4)):
        kind = rng.below(9)
        at = rng.below(len(data) + 1)
        if kind == 0 and data:  # flip a byte
            data[min(at, len(data) - 1)] ^= 1 << rng.below(8)
        elif kind == 1:  # cut the tail (often loses the final code)
            data = data[:at]
        elif kind == 2:  # duplicate a piece
            piece = data[at : at + rng.below(12)]
            data[at:at] = piece
        elif kind == 3:
            data[at:at] = (b"\r", b"\n", b"\r\n", b"\n\r")[rng.below(4)]
        elif kind == 4:  # garbage
            data[at:at] = bytes(rng.below(256) for _ in range(rng.below(6) + 1))
        elif kind == 5:  # a long line
            data[at:at] = b"X" * (900 + rng.below(400))
        elif kind == 6:  # a URC spliced in anywhere, even mid-line
            data[at:at] = URCS[rng.below(len(URCS))]
        elif kind == 7 and data:  # drop a byte
            at = min(at, len(data) - 1)
            data = data[:at] + data[at + 1 :]
        else:  # a raw-read header with a garbled or huge count
            data[at:at] = b'\r\n+QIURC: "recv",0,%d\r\n' % (rng.below(3000) - 5)
    return bytes(data)


def _recv_len(line):
    return int(line.rsplit(",", 1)[1])


def _setup():
    clock = ManualClock()
    fake = StreamModem(clock, ())
    engine = Engine(fake, clock)
    engine.on_urc('+QIURC: "recv"', lambda line, data: None, _recv_len)
    Bc95(engine, clock)  # its URC handlers parse every garbled +CEREG/+NSONMI/... line
    return engine, fake


ENDINGS = ("OK", "ERROR", "CME", "CMS", "TIMEOUT", "ABORT")  # ABORT: a banner's own OK


def test_garbled_streams_never_escape_never_hang_and_stay_bounded():
    rng = Rng(20261125)
    engine, fake = _setup()
    gc.collect()
    base = gc.mem_alloc()
    peak = 0
    results = {}
    for i in range(STREAMS):
        text, expect, reply = EXCHANGES[rng.below(len(EXCHANGES))]
        fake._answers.append(mutate(rng, reply))
        fake.split = rng.below(40)
        data = b"a\r\n" if text.startswith("AT+QISEND") else None
        finals = 2 if ";" in text else 1
        r = engine.command(text, expect, 100 + rng.below(200), data=data, finals=finals)
        assert r.result in ENDINGS, r
        results[r.result] = results.get(r.result, 0) + 1
        if rng.below(4) == 0:  # unsolicited bytes with no command running
            fake.push(mutate(rng, URCS[rng.below(len(URCS))]))
            engine.poll(rng.below(50))
        if i % 500 == 0:
            gc.collect()
            peak = max(peak, gc.mem_alloc() - base)
    gc.collect()
    peak = max(peak, gc.mem_alloc() - base)
    assert peak < HEAP_BOUND, peak
    assert engine.commands == STREAMS, engine.commands
    assert len(engine._queue) == 0 and engine._n <= engine.line_max
    for code in ("OK", "TIMEOUT", "CME"):
        assert results.get(code, 0) > STREAMS // 50, results
    c = engine.counters()
    for name in ("garbage", "overlong", "dropped", "urcs", "raw_dropped", "timeouts"):
        assert c[name] > 0, c
    engine.idle(3000)  # any half-read raw payload is abandoned by now
    fake.clear()
    fake._answers.append(b"\r\n+CSQ:18,99\r\n\r\nOK\r\n")
    r = engine.command("AT+CSQ", "+CSQ:")
    assert r.ok and r.lines == ["+CSQ:18,99"], r  # after all that, a clean exchange still works
    print("fuzz", results, c, "peak", peak)


def test_fresh_engines_on_short_random_noise():
    # Pure noise (no structure) from power-on: commands still end, nothing escapes.
    rng = Rng(7)
    for _ in range(300):
        engine, fake = _setup()
        noise = bytes(rng.below(256) for _ in range(rng.below(200)))
        fake._answers.append(noise)
        fake.split = 1 + rng.below(16)
        assert engine.command("AT", None, 50).result in ENDINGS
