# Fuzz: 1,500 seeded random lines (garbage bytes, printable noise, mangled and valid commands,
# overlong lines, PIN guesses) at the provisioning console. Every line gets exactly one reply
# that ends in OK or ERR <code> <message>; the configuration only ever changes through an
# accepted set/key/factory-reset and always stays valid; the key never comes back; the device
# keeps answering throughout.
import random

from console_kit import PIN, Bench
from fake_config import RULES, digest

TIMEOUT_S = 60
LINES = 1500
SEED = 20261125

_WORDS = (
    "identify",
    "get",
    "set",
    "key",
    "selftest",
    "log",
    "factory-reset",
    "unlock",
    "challenge",
    "respond",
    "exit",
    "help",
    "ping",
    "GET",
    "Set",
    "kEy",
    "sel",
    "",
)
_ARGS = (
    "apn=iot.nb",
    "apn=",
    "bands=3,8",
    "bands=99",
    "sample_s=30",
    "sample_s=-1",
    "report_s=600",
    "report_s=1",
    "heartbeat_s=86400",
    "server=a.b:1",
    "server=:",
    "device_id=wm-7",
    "device_id=",
    "smoke_threshold=4096",
    "flow_alarm_lph=10",
    "set",
    "fingerprint",
    "confirm",
    "=",
    "==",
    '"',
    '"a b"',
    "0",
    "100",
    "-5",
    "abc",
)
_PRINTABLE = "".join(chr(c) for c in range(32, 127))
_CHANGERS = ("set ", "key set ", "factory-reset confirm")


def _noise(n, lo, hi):
    return bytes(random.randint(lo, hi) for _ in range(n))


def _command(keys):
    words = [random.choice(_WORDS)]
    if random.random() < 0.2:
        words[0] = words[0].upper()
    if words[0].lower() == "key" and random.random() < 0.5:
        words.append("set")
    for _ in range(random.randint(0, 3)):
        if random.random() < 0.15:
            key = (
                "%064x" % random.getrandbits(32)
                if random.random() < 0.5
                else "%032x" % (random.getrandbits(30))
            )
            words.append(key)
        else:
            words.append(random.choice(_ARGS))
    if words[0].lower() == "key" and words[1:2] == ["set"]:
        keys.extend(w for w in words[2:] if len(w) >= 32)  # key material must not come back
    return " ".join(words).encode()


def _line(keys):
    r = random.random()
    if r < 0.25:
        line = _noise(random.randint(1, 60), 0, 255)
    elif r < 0.40:
        line = "".join(random.choice(_PRINTABLE) for _ in range(random.randint(1, 80))).encode()
    elif r < 0.45:
        line = b"x" * random.randint(201, 700)
    elif r < 0.55:
        line = b"unlock " + (PIN.encode() if random.random() < 0.8 else b"123456")
    elif r < 0.60:
        keys.append("%064x" % random.getrandbits(32))
        line = b"key set " + keys[-1].encode()
    else:
        line = _command(keys)
    return _printable_end(line.replace(b"\r", b"").replace(b"\n", b""))


def _printable_end(line):
    # Blank lines are documented to get no reply, so every fuzz line is made non-blank:
    # whatever backspaces erase, the last character survives.
    if not line.strip() or b"\x08" in line or b"\x7f" in line:
        line += b"x"
    return line


def _check_reply(line, reply):
    assert len(reply) >= 1, (line, reply)
    final = reply[-1]
    if final != "OK":
        assert final.startswith("ERR "), (line, reply)
        code, _, message = final[4:].partition(" ")
        assert len(code) == 3 and code.isdigit() and message, (line, reply)
    for data in reply[:-1]:
        key, sep, _value = data.partition(": ")
        assert sep and key and not data.startswith(("OK", "ERR ")), (line, reply)
    return final == "OK"


def _still_valid(config):
    values, _key = config.snapshot()
    for key, value in values.items():
        text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
        RULES[key](text)
    assert values["report_s"] >= values["sample_s"], values


def _split(replies):
    # Device output -> list of replies (each a list of lines ending in OK/ERR).
    out, cur = [], []
    for line in replies:
        cur.append(line)
        if line == "OK" or line.startswith("ERR "):
            out.append(cur)
            cur = []
    assert not cur, cur
    return out


def test_random_lines_each_get_one_clear_answer_and_the_config_survives():
    random.seed(SEED)
    bench = Bench()
    bench.record = False
    keys = []
    changes = oks = 0
    for i in range(LINES):
        line = _line(keys)
        before = digest(bench.config)
        replies = _split(bench.feed(line + random.choice((b"\r", b"\n", b"\r\n"))))
        assert len(replies) == 1, (i, line, replies)
        ok = _check_reply(line, replies[0])
        oks += ok
        if digest(bench.config) != before:
            text = line.decode().lower()
            assert ok and text.startswith(_CHANGERS), (i, line, replies)
            _still_valid(bench.config)
            changes += 1
        for key in keys:
            assert key not in "\n".join(replies[0]).lower(), (i, line)
        del keys[:]
        if i % 25 == 0:
            assert bench.send("ping %d" % i) == ["pong: %d" % i, "OK"], i
        bench.clock.advance(random.randint(0, 30000))
    assert bench.send("ping end") == ["pong: end", "OK"]
    # the fuzz must reach past the lock, or it only tested the front door
    print("fuzz:", LINES, "lines,", oks, "OK,", changes, "config changes")
    assert changes >= 20 and oks >= 200, (changes, oks)
    assert bench.console.replies == LINES + LINES // 25 + 1, bench.console.replies
