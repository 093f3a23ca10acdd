"""1,000 random lines into the service console of the running board (not a test double).

Every line gets exactly one final answer (`OK` or `ERR <code> <message>`), the board keeps
answering, and the stored configuration is the same afterwards. Ctrl-C (0x03) is left out: on
the console it keeps its REPL meaning (KeyboardInterrupt), by design. No `unlock`/`respond`:
wrong attempts would lock the technician out for the following tests.
"""

from __future__ import annotations

import random
import re

from host_tools.hil.dut import Dut

LINES = 1000
_FINAL = re.compile(rb"(OK|ERR (\d{3}) [^\r\n]+)\r\n")
_WORDS = ("help", "ping", "echo off", "identify", "challenge", "get", "set", "key", "log", "x")
_WORDS += ("selftest", "factory-reset", "exit now", "get apn", "set apn=x", "key fingerprint")
_BYTES = [b for b in range(256) if b not in (3, 10, 13)]


def _line(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.3:
        line = bytes(rng.choice(_BYTES) for _ in range(rng.randint(1, 50)))
    elif r < 0.5:
        line = bytes(rng.randint(32, 126) for _ in range(rng.randint(1, 80)))
    elif r < 0.55:
        line = b"z" * rng.randint(201, 500)
    else:
        line = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3))).encode()
    if line.lower().lstrip().startswith((b"unlock", b"respond", b"echo on")):
        line = b"x" + line
    if not line.strip() or b"\x08" in line or b"\x7f" in line:
        line += b"x"  # blank lines get no answer by design; every fuzz line must get one
    return line


def test_random_lines_each_get_one_answer_and_the_config_survives(
    service, provision, hil_artifacts
):
    code, doc = provision("get")
    assert code == 0, doc
    before = doc["result"]
    dut = Dut(service.port, log_path=hil_artifacts["console"])
    try:
        _fuzz(dut)
    finally:
        dut.close()  # the port is exclusive: let nbkit provision have it
    assert provision("get")[1]["result"] == before


def _fuzz(dut: Dut) -> None:
    rng = random.Random(20261125)
    finals: dict[bytes, int] = {}
    for i in range(LINES):
        line = _line(rng)
        dut.write(line + rng.choice((b"\r", b"\n", b"\r\n")))
        m = dut.expect(_FINAL, timeout=10)
        code = m.group(2) or b"OK"
        finals[code] = finals.get(code, 0) + 1
        if i % 100 == 0:
            dut.writeline(f"ping fuzz-{i}")
            dut.expect(rf"pong: fuzz-{i}\r\nOK\r\n", timeout=5)
    assert sum(finals.values()) == LINES, finals
    assert b"401" in finals and b"400" in finals and b"414" in finals, finals
