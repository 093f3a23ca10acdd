# The console with type-along echo ON (a person at a terminal) and OFF (a program) against every
# control byte, every non-ASCII byte and invalid UTF-8 inside words, including the first word
# that decides whether the echo masks a secret: 10,000+ lines, each answered with exactly one
# OK or ERR line, the echo never raises (issue 16, finding 5: echo on plus 0xff ended the window
# with a UnicodeError), and the console keeps answering. Kept fast: the lines are short.
import random

from console_kit import PIN, Bench

TIMEOUT_S = 120
# the virtual board's heap (boards/unix_sim.json, 32-bit equivalent): at the runner's default
# the fuzz ran within a few bytes of a MemoryError, which depended on the checkout's path
HEAPSIZE = "163840w"
SEED = 160016
LINES_PER_MODE = 5200  # x2 modes: over 10,000 lines

_WORDS = (b"unlock", b"respond", b"key", b"ping", b"get", b"echo", b"help", b"exit", b"set")
_INVALID_UTF8 = (b"\xff", b"\xfe", b"\xc3", b"\xc3\x28", b"\xe2\x82", b"\xf0\x9f\x98", b"\x80")


def _line(i):
    # every byte value 0..255 (but the line ends) appears in the first word and in the arguments
    b = i % 256
    if b in (8, 10, 13, 127):
        b = 0xFF
    r = random.random()
    if r < 0.3:
        return bytes([b]) + b" " + random.choice(_WORDS)
    if r < 0.6:
        return random.choice(_WORDS) + bytes([b]) + b" x"
    if r < 0.8:
        return random.choice(_WORDS) + b" " + random.choice(_INVALID_UTF8) + b" y"
    return bytes(random.randint(0, 255) for _ in range(random.randint(1, 12)))


def _clean(line):
    line = line.replace(b"\r", b"").replace(b"\n", b"")
    if not line.strip() or b"\x08" in line or b"\x7f" in line:
        line += b"z"  # blank lines get no reply; whatever backspaces erase, z survives
    return line


def _finals(text):
    return [ln for ln in text.split("\r\n") if ln == "OK" or ln.startswith("ERR ")]


def _run(echo):
    random.seed(SEED + echo)
    bench = Bench()
    bench.record = False
    if echo:
        assert bench.send("echo on") == ["OK"]
    answered = 0
    for i in range(LINES_PER_MODE):
        line = _clean(_line(i))
        text = bench.raw(line + b"\r\n")
        finals = _finals(text)
        assert len(finals) == 1, (echo, i, line, text)
        answered += 1
        if i % 500 == 0:  # an unlock typed in between still works: the console is alive
            assert _finals(bench.raw(b"ping alive\r\n")) == ["OK"], (echo, i)
        if bench.console.guard.lockout_left_s():
            bench.clock.advance(3600 * 1000)
    assert bench.console.echo == bool(echo) or not echo
    return answered


def test_echo_on_and_a_0xff_in_the_first_word_answers_an_error_not_a_unicode_error():
    bench = Bench()
    assert bench.send("echo on") == ["OK"]
    text = bench.raw(b"\xff x\r\n")
    assert text.startswith("? x"), text
    assert text.endswith("ERR 400 line has a non-ASCII or control byte 0xff\r\n"), text
    text = bench.raw(("unlock " + PIN + "\r\n").encode())
    assert "*" * len(PIN) in text and PIN not in text and text.endswith("OK\r\n"), text


def test_ten_thousand_lines_echo_on_and_off_each_get_one_final_answer():
    total = _run(0) + _run(1)
    print("echo fuzz:", total, "lines")
    assert total >= 10000
