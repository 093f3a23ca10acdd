# Meter-bus frames used by the codec tests, in MicroPython (tests/firmware/test_cjt188.py,
# test_dlt645.py) and in CPython (tests/host/test_meter_codecs.py runs the same tests).
# Where each frame comes from is stated beside it. "capture" = bytes a real meter or master
# put on the line, quoted in public source code; "constructed" = built from the standard's
# layout by us, not captured.


def h(text):
    return bytes.fromhex(text.replace(" ", ""))


# --- CJ/T 188 --------------------------------------------------------------------------------
# Capture: a Go water-meter reader published on GitHub (comment block "读取当前表具ID号",
# 2400 8E1 RS-485), meter ID 78330123456789: the master's read-address request (DI low byte
# first) and the meter's reply.
CJT_READ_ADDR_REQ = h("68 10 AA AA AA AA AA AA AA 03 03 0A 81 A7 56 16")
CJT_READ_ADDR_REPLY = h("FE FE 68 10 89 67 45 23 01 33 78 83 03 0A 81 A7 34 16")

# Capture: same program, a real meter's 0x901F reply quoted in its readSB() comment. DI comes
# high byte first (90 1F), SER AA; the meter sends FF for the unset settlement value and clock.
CJT_CURRENT_REPLY = h(
    "FE FE 68 10 45 41 10 05 15 33 78 81 16 90 1F AA 00 59 59 00 2C"
    " FF FF FF FF 2C FF FF FF FF FF FF FF 00 00 C2 16"
)
# Capture: same program, the read request it sends (DI low byte first, wildcard address).
CJT_CURRENT_REQ = h("FE FE 68 10 AA AA AA AA AA AA AA 01 03 1F 90 AA 7B 16")

# Same program: a reply its author marks "回复数据的校验值不对" (the reply's checksum is
# wrong): CS on the line is 0x08, the sum is 0x13. A real-world bad-checksum frame.
CJT_BAD_CS_REPLY = h(
    "FE FE FE FE 68 10 44 33 22 11 00 33 78 81 16 1F 90 00 00 77 66 55 2C"
    " 00 77 66 55 2C 31 01 22 11 05 15 20 21 84 08 16"
)

# aixiwang/python_cjt188 (python_cjt188.py): the address reply its author uses in debug mode
# (meter address 00000000000012, DI high byte first: 81 0A). Written by the author, not
# necessarily captured.
CJT_AIXI_ADDR_REPLY = h("FE FE FE 68 10 12 00 00 00 00 00 00 83 03 81 0A 00 9B 16")


# Constructed from the standard's layout: abnormal reply to read data (C = 0xC1), L = 3:
# SER 05, ST = 0x0004 (battery low).
def _fix_cs(frame):
    # fills the CS placeholder of a constructed frame
    b = bytearray(frame)
    start = b.index(0x68)
    b[-2] = sum(b[start:-2]) & 0xFF
    return bytes(b)


CJT_ABNORMAL_REPLY = _fix_cs(h("68 10 89 67 45 23 01 33 78 C1 03 05 04 00 00 16"))

# --- DL/T 645-2007 --------------------------------------------------------------------------
# The address discovery request quoted in the reference (power-and-meters.md §3.2) and in many
# public DL/T 645 tools.
DLT_DISCOVER_REQ = h("FE FE FE FE 68 AA AA AA AA AA AA 68 13 00 DF 16")

# Capture: a Go DL/T 645 library's test comment (package go645): a meter at address
# 000000000001 answering the discovery request.
DLT_ADDR_REPLY = h("68 01 00 00 00 00 00 68 93 06 34 33 33 33 33 33 9D 16")

# Capture: same test comment, forward active energy (DI 00 01 00 00) = 112280.26 kWh
# (the author notes "11228026").
DLT_FORWARD_REPLY = h("68 01 00 00 00 00 00 68 91 08 33 33 34 33 59 B3 55 44 DC 16")

# Capture: same comment, reading DI 04000402 (meter number) of meter 002241020208:
# request (with FE wake-up bytes) and reply.
DLT_METERNO_REQ = h("FE FE FE FE 68 08 02 02 41 22 00 68 11 04 35 37 33 37 2A 16")
DLT_METERNO_REPLY = h("68 08 02 02 41 22 00 68 91 0A 35 37 33 37 3B 35 35 74 55 33 51 16")

# Capture: comments in a C DL/T 645 reader published on GitHub (strpower_kwh): meter
# 181226034194 answering discovery, then forward active energy 0.26 kWh.
DLT_ADDR_REPLY_2 = h("FE FE FE FE 68 94 41 03 26 12 18 68 93 06 C7 74 36 59 45 4B EB 16")
DLT_FORWARD_REPLY_2 = h("FE FE FE FE 68 94 41 03 26 12 18 68 91 08 33 33 34 33 59 33 33 33 50 16")

# Capture: a Java DL/T 645 decoder's comment: address reply of meter 000332316420.
DLT_ADDR_REPLY_3 = h("FE FE FE FE 68 20 64 31 32 03 00 68 93 06 53 97 64 65 36 33 6F 16")

# Constructed from the standard's layout: abnormal reply to read data (C = 0xD1), one ERR
# byte 0x02 ("no data requested") sent as 0x35.
DLT_ABNORMAL_REPLY = _fix_cs(h("68 01 00 00 00 00 00 68 D1 01 35 00 16"))


def malformed(frame):
    # (name, bytes, expected FrameError.reason) variants of a good frame.
    from nbkit.sense import bus

    cs = bytearray(frame)
    cs[-2] ^= 0x01
    end = bytearray(frame)
    end[-1] = 0x17
    return (
        ("bad checksum", bytes(cs), bus.BAD_CHECKSUM),
        ("missing 0x16", bytes(end), bus.NO_END),
        ("truncated", frame[:-3], bus.TRUNCATED),
        ("only wake-up bytes", b"\xfe\xfe\xfe\xfe", bus.NO_START),
        ("bytes after the end", frame + b"\x00", bus.BAD_LENGTH),
    )


def with_length(frame, len_at, delta):
    # the frame with its L byte changed by delta (CS recomputed, so only L is wrong)
    b = bytearray(frame)
    start = b.index(0x68)
    b[start + len_at] = (b[start + len_at] + delta) & 0xFF
    return _fix_cs(bytes(b))
