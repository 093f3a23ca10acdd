# Bytes on the console UART are framed into bounded lines: any line ending, backspace, garbage
# and overlong lines are handled with a clear answer and memory that never grows.
import gc

from console_kit import Bench
from nbkit.console.lines import BAD, LINE, OVERLONG, LineReader


def _frame(chunks, max_len=16):
    reader = LineReader(max_len)
    got = []
    for chunk in chunks:
        reader.feed(chunk, lambda kind, value: got.append((kind, value)))
    return reader, got


def test_cr_lf_and_crlf_all_end_a_line_once():
    _, got = _frame([b"a\rb\nc\r\nd\n\re\r", b"\nf\r"])
    assert got == [
        (LINE, "a"),
        (LINE, "b"),
        (LINE, "c"),
        (LINE, "d"),
        (LINE, ""),
        (LINE, "e"),
        (LINE, "f"),
    ], got


def test_bad_bytes_and_overflow_are_delivered_as_such_not_dropped():
    reader, got = _frame([b"a\x01b\n", b"x" * 40 + b"\x08\x08\n", b"y" * 16 + b"\n"])
    assert got == [(BAD, 1), (OVERLONG, 16), (LINE, "y" * 16)], got
    assert (reader.bad_count, reader.overlong_count) == (1, 1)


def test_a_crlf_split_across_reads_is_one_line_end():
    bench = Bench()
    assert bench.feed(b"ping 1\r") == ["pong: 1", "OK"]
    assert bench.feed(b"\n") == [], "the LF after a CR must not start another line"
    assert bench.feed(b"ping 2\n\n\n") == ["pong: 2", "OK"], "blank lines get no reply"


def test_backspace_and_delete_erase_and_tab_is_a_space():
    _, got = _frame([b"pinx\x08g\tab\x7fc\n", b"\x08\x08\x08x\n"])
    assert got == [(LINE, "ping ac"), (LINE, "x")], got
    assert Bench().feed(b"idx\x7fentifz\x08y\r")[-1] == "OK"


def test_control_and_non_ascii_bytes_get_an_error_not_a_guess():
    bench = Bench()
    assert bench.feed(b"ping \x1b[A\r\n") == ["ERR 400 line has a non-ASCII or control byte 0x1b"]
    assert bench.feed("ping caf\u00e9\r\n".encode()) == [
        "ERR 400 line has a non-ASCII or control byte 0xc3"
    ]
    assert bench.feed(b"\x00\xff\xfe\n") == ["ERR 400 line has a non-ASCII or control byte 0x00"]
    assert bench.send("ping ok") == ["pong: ok", "OK"]
    assert bench.console.reader.bad_count == 3


def test_an_overlong_line_is_refused_counted_and_the_next_line_works():
    bench = Bench()
    assert bench.feed(b"set apn=") == []
    for _ in range(10):
        assert bench.feed(b"a" * 500) == []
    reply = bench.feed(b"\r\n")
    assert reply == ["ERR 414 line too long (max 200 characters), ignored"], reply
    assert bench.console.reader.overlong_count == 1
    assert bench.config.writes == 0
    assert bench.send("ping") == ["pong: ", "OK"]
    assert bench.feed(b"x" * 199 + b"\n") == [
        "ERR 404 unknown command xxxxxxxxxxxxxxxxxxxx (try help)"
    ]
    assert bench.feed(b"x" * 201 + b"\n")[0].startswith("ERR 414")
    assert bench.console.reader.overlong_count == 2


def test_memory_stays_flat_under_a_flood_without_line_ends():
    bench = Bench()
    bench.feed(b"warm up\n")
    gc.collect()
    before = gc.mem_alloc()
    for _ in range(200):
        bench.feed(b"z" * 500)
    gc.collect()
    grown = gc.mem_alloc() - before
    assert grown < 2048, grown
    assert bench.feed(b"\n") == ["ERR 414 line too long (max 200 characters), ignored"]


def test_lines_arriving_byte_by_byte_or_many_at_once_answer_the_same():
    one = Bench()
    replies = []
    for b in b"ping a\r\nping b\nping c\r":
        replies += one.feed(bytes([b]))
    many = Bench().feed(b"ping a\r\nping b\nping c\r")
    assert replies == many == ["pong: a", "OK", "pong: b", "OK", "pong: c", "OK"], replies


def test_every_reply_goes_out_whole_even_through_a_slow_transport():
    bench = Bench()
    written = []

    def trickle(data):
        written.append(bytes(data[:3]))
        bench.transport.tx.extend(data[:3])
        return min(3, len(data))

    bench.transport.write = trickle
    assert bench.send("ping slowly") == ["pong: slowly", "OK"]
    assert len(written) > 3


def test_echo_on_types_along_for_a_terminal_and_masks_secrets():
    bench = Bench()
    assert bench.send("echo on") == ["OK"]
    assert bench.raw(b"pinx\x08g 1\r\n") == "pinx\b \bg 1\r\npong: 1\r\nOK\r\n"
    assert bench.raw(b"\x08") == "", "nothing to erase, nothing shown"
    # after unlock, respond or key the rest of the line shows as *, however it is spaced
    assert bench.raw(b"  KEY  set ") == "  KEY *****"
    assert bench.raw(b"00112233445566778899aabbccddeeff\r") == "*" * 32 + (
        "\r\nERR 401 locked: unlock <pin> or challenge/respond first\r\n"
    )
    assert bench.raw(b"unlock 482913\r\n") == "unlock ******\r\nOK\r\n"
    assert bench.raw(b"\x1bq\r") == "?q\r\nERR 400 line has a non-ASCII or control byte 0x1b\r\n"
    text = bytes(bench.output).decode()
    assert "482913" not in text and "00112233" not in text, text
    assert bench.raw(b"echo off\r\n") == "echo off\r\nOK\r\n"
    assert bench.raw(b"ping\r\n") == "pong: \r\nOK\r\n", "no echo once off"
    assert bench.send("echo loud") == ["ERR 400 usage: echo on|off"]
