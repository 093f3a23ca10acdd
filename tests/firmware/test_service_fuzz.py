# Fuzz the provisioning console on the REAL store (config file on littlefs through
# nbkit.console.store_adapter): 1,200 random lines, every one gets exactly one clear answer
# (data lines, then OK or ERR <code> <message>), the stored config is valid after every line
# and changes only on an OK from set / key set / factory-reset, secrets never come back, and the
# console keeps answering.
import random

from nbkit.store import config
from store_bench import KEY_HEX, PATH, PIN, StoreBench, mount, new_image, umount

HEAPSIZE = "256K"
TIMEOUT_S = 90
LINES = 1200
SEED = 7011

_WORDS = (
    "help",
    "ping",
    "echo",
    "identify",
    "unlock",
    "challenge",
    "respond",
    "exit",
    "get",
    "set",
    "key",
    "selftest",
    "log",
    "factory-reset",
    "bogus",
    "",
)
_FIELDS = sorted(config.FIELDS) + ["colour", "KEY", ""]
_PINS = (PIN, "5555")  # the fuzz may change the PIN (set service_pin=5555) and go on
_VALUES = ("0", "1", "5683", "65536", "900", "60", "86400", "10.0.0.1", "iot.nb", "abc", "-5")
_VALUES += ("", "x" * 70, "99999999999", "5555", KEY_HEX, '"a b"', "=", "10.0.0.1 x")
_PRINTABLE = "".join(chr(c) for c in range(32, 127))
_CHANGERS = ("set ", "key set ", "factory-reset confirm")


def _set_line():
    pairs = []
    for _ in range(random.randint(1, 3)):
        pairs.append(random.choice(_FIELDS) + "=" + random.choice(_VALUES))
    return "set " + " ".join(pairs)


def _line():
    r = random.random()
    if r < 0.15:
        line = bytes(random.randint(0, 255) for _ in range(random.randint(1, 40)))
    elif r < 0.25:
        line = "".join(random.choice(_PRINTABLE) for _ in range(random.randint(1, 60))).encode()
    elif r < 0.28:
        line = b"y" * random.randint(201, 400)
    elif r < 0.40:
        line = ("unlock " + random.choice(_PINS + ("0000",))).encode()
    elif r < 0.70:
        line = _set_line().encode()
    elif r < 0.75:
        line = ("key set " + random.choice((KEY_HEX, "ab" * 32, "cd" * 20, "zz"))).encode()
    elif r < 0.77:
        line = b"factory-reset confirm"
    else:
        words = [random.choice(_WORDS)] + [
            random.choice(_VALUES) for _ in range(random.randint(0, 2))
        ]
        line = " ".join(words).encode()
    line = line.replace(b"\r", b"").replace(b"\n", b"")
    if not line.strip() or b"\x08" in line or b"\x7f" in line:
        line += b"x"  # blank lines get no reply by design; keep every fuzz line answerable
    return line


def _file():
    with open(PATH) as f:
        return f.read()


def _valid_or_partial(text):
    # The stored file is a valid config, or (after a factory reset) a partial one whose every
    # present value is valid.
    import json

    cfg = json.loads(text)
    try:
        config.validate(cfg)
    except config.ConfigError as exc:
        for problem in str(exc).split("; "):
            assert problem.endswith("missing (required)"), (problem, cfg)


def _replies(lines):
    out, cur = [], []
    for line in lines:
        cur.append(line)
        if line == "OK" or line.startswith("ERR "):
            out.append(cur)
            cur = []
    assert not cur, cur
    return out


def test_random_lines_against_the_real_store():
    random.seed(SEED)
    mount(new_image())
    bench = StoreBench()
    changes = oks = 0
    for i in range(LINES):
        line = _line()
        before = _file()
        replies = _replies(bench.feed(line + random.choice((b"\r", b"\n", b"\r\n"))))
        assert len(replies) == 1, (i, line, replies)
        reply = replies[0]
        final = reply[-1]
        assert final == "OK" or (final[:4] == "ERR " and final[4:7].isdigit()), (i, line, reply)
        oks += final == "OK"
        for data in reply[:-1]:
            assert ": " in data, (i, line, reply)
        text = "\n".join(reply)
        for secret in (KEY_HEX, "ab" * 32):  # keys come back only where the line typed them
            assert secret not in text or secret.encode() in line, (i, line, reply)
        assert PIN not in text, (i, line, reply)  # the PIN is never printed
        after = _file()
        if after != before:
            assert final == "OK" and line.decode().startswith(_CHANGERS), (i, line, reply)
            _valid_or_partial(after)
            changes += 1
        if i % 50 == 0:
            assert bench.send("ping %d" % i) == ["pong: %d" % i, "OK"], i
        bench.clock.advance(random.randint(0, 40000))
        bench.console.done = False  # a locked `exit` ends a window; the fuzz keeps going
    assert bench.send("ping end") == ["pong: end", "OK"]
    print("fuzz (real store):", LINES, "lines,", oks, "OK,", changes, "config writes")
    assert changes >= 20 and oks >= 80, (changes, oks)
    umount()
