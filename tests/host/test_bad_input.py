"""No input, however bad, ends in a Python traceback (issue 16 #10, docs/security.md).

Every row is a real `python -m host_tools ...` process, started in a session of its own (no
controlling terminal, stdin from /dev/null, as in CI or cron). Each must exit with the code of
its kind (1: `nbkit: what went wrong - what to do`; 2: a usage error, as argparse; 141 when the
reader of its output went away) and a message naming the problem, never a traceback and never
the last-resort "bug in nbkit" message.

Run as root, read-only directories do not stop anyone: "cannot write" cases use a path under a
regular file (ENOTDIR) or /proc, and read-only files are refused by their mode bits.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.collector import keyfile
from host_tools.collector.db import Store

REPO = Path(__file__).resolve().parents[2]
KEY = bytes(range(16))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """The props of the table: a regular file to put paths under, bad JSON, a database..."""
    d = tmp_path_factory.mktemp("bad-input")
    (d / "afile").write_text("a regular file\n")
    (d / "bad.json").write_text("{bad")
    (d / "str.json").write_text('"just a string"\n')
    (d / "bin.dat").write_bytes(b"\xff\xfe\x00\x81garbage")
    (d / "notdb.db").write_bytes(b"this is not an SQLite database, just bytes" * 10)
    (d / "ro.db").write_bytes(b"")
    os.chmod(d / "ro.db", 0o444)
    (d / "ro.img").write_bytes(b"\xff" * 64 * 4096)
    os.chmod(d / "ro.img", 0o444)
    (d / "small.img").write_bytes(b"\xff" * 1000)
    (d / "timeline.jsonl").write_text('{"t": 0, "state": "warp"}\nnot json\n')
    (d / "scenario.json").write_text("[1, 2")
    (d / "scenario_shape.json").write_text('{"faults": "lots"}\n')
    (d / "firmware.bin").write_bytes(b"not an esp32 image")
    keyfile.save(d / "keys.json", {1042: KEY})
    store = Store(d / "readings.db")
    with store.conn:
        rows = [(1042, i, 1764000000 + i, 1, "water", i, "L", 0.0, 0) for i in range(20000)]
        store.conn.executemany("INSERT INTO readings VALUES (?,?,?,?,?,?,?,?,?)", rows)
    store.close()
    return d


@pytest.fixture(scope="module")
def busy_udp_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


K = "{d}/keys.json"
# (argv with {d} for the props folder and {busy} for a taken port, exit code, the problem named)
CASES: list[tuple[str, int, str]] = [
    # collect
    ("collect --listen 127.0.0.1:0 --db {d}/afile/c.db --keys " + K, 1, r"no folder"),
    ("collect --listen 127.0.0.1:0 --db /proc/nbkit-c.db --keys " + K, 1, r"/proc/nbkit-c\.db"),
    ("collect --listen 127.0.0.1:0 --db {d}/ro.db --keys " + K, 1, r"read-only"),
    ("collect --listen 127.0.0.1:0 --db {d}/notdb.db --keys " + K, 1, r"cannot open the readings"),
    ("collect --listen 127.0.0.1:0 --db {d} --keys " + K, 1, r"is a folder"),
    ("collect --listen 127.0.0.1:0 --db {d}/c1.db --keys {d}/none.json", 1, r"no key file"),
    ("collect --listen 127.0.0.1:0 --db {d}/c2.db --keys {d}/bad.json", 1, r"not valid JSON"),
    ("collect --listen 127.0.0.1:0 --db {d}/c3.db --keys {d}/str.json", 1, r"expected"),
    ("collect --listen 127.0.0.1:0 --db {d}/c4.db --keys {d}/bin.dat", 1, r"not valid JSON"),
    ("collect --db {d}/c5.db --keys " + K, 1, r"at least one of --listen"),
    ("collect --listen nowhere --db {d}/c6.db --keys " + K, 1, r"HOST:PORT"),
    ("collect --listen 127.0.0.1:{busy} --db {d}/c7.db --keys " + K, 1, r"cannot start the udp"),
    ("collect --listen 127.0.0.1:0 --log-max-bytes 12 --db {d}/c8.db --keys " + K, 2, r"1k"),
    ("collect --listen 127.0.0.1:0 --busy-timeout 0 --db {d}/c9.db --keys " + K, 1, r"busy"),
    ("collect --listen 127.0.0.1:0 --log {d}/afile/c.log --db {d}/c10.db --keys " + K, 1, "log"),
    # readings
    ("readings --db {d}/missing.db", 1, r"no such database"),
    ("readings --db {d}/notdb.db", 1, r"cannot open the readings database"),
    ("readings --db {d}/readings.db --device abc", 2, r"invalid int"),
    # build
    ("build --board unix_sim --out {d}/afile/out", 1, r"--out .*cannot make"),
    ("build --board nope --out {d}/out", 1, r"nope"),
    ("build", 2, r"one of the arguments --board --all is required"),
    # demo: refused before anything starts
    ("demo --hours 0", 1, r"--hours 0"),
    ("demo --hours -3", 1, r"--hours"),
    ("demo --read-interval 0", 1, r"--read-interval: must be 10\.\.86400"),
    ("demo --workdir {d}/afile/run --hours 0.01", 1, r"--workdir .*cannot make"),
    ("demo --workdir /proc/nbkit-run --hours 0.01", 1, r"--workdir"),
    ("demo --clock scaled", 2, r"invalid choice: 'scaled' \(choose from 'sim', 'real'\)"),
    ("demo --report-interval 100 --read-interval 900", 1, r"--report-interval"),
    ("demo --transport tcp --modem bc28", 1, r"--transport tcp runs over"),
    ("meterbus --protocol dlt645 --reply-delay-ms -5", 1, r"--reply-delay-ms -5"),
    ("meterbus --protocol dlt645 --clock sim:127.0.0.1:x:m0", 1, r"PORT is a number"),
    ("demo --hours lots", 2, r"invalid float"),
    (
        "demo --modem-port /dev/nbkit-no-such-tty",
        1,
        r"--modem-port /dev/nbkit-no-such-tty: no such",
    ),
    ("demo --baud 9600", 1, r"--baud goes with --modem-port"),
    ("demo --scenario {d}/none.json", 1, r"cannot read scenario"),
    ("demo --modem-port /dev/null --clock sim", 1, r"real time; use --clock real"),
    # vboard
    ("vboard --flash {d}/ro.img", 1, r"read-only"),
    ("vboard --flash {d}/afile/flash.img", 1, r"cannot make its folder .*afile"),
    ("vboard --flash {d}/small.img", 1, r"not a flash image"),
    ("vboard --flash {d}/new.img --flash-size 1000", 1, r"--flash-size"),
    ("vboard --flash {d}/new.img --board esp32_bc28", 1, r"not a virtual one"),
    # keys
    ("keys new --device 1 --keys {d}/afile/keys.json", 1, r"cannot write .*afile"),
    ("keys new --device 1 --keys /proc/nbkit-keys.json", 1, r"cannot write"),
    ("keys new --device -1 --keys {d}/k2.json", 1, r"--device must be"),
    ("keys new --device 1 --keys {d}/k3.json --server nowhere", 1, r"--server must be HOST"),
    ("keys new --device 1042 --keys " + K, 1, r"already has a key"),
    ("keys new --device 1 --keys {d}/k4.json --config {d}/afile/dev.json", 1, r"cannot write"),
    # provision: secrets never on argv; no terminal, no prompt
    ("provision --port /dev/nbkit-none get", 2, r"no terminal to ask for the service PIN"),
    ("provision --port /dev/nbkit-none --pin-file p set service_pin=1234", 2, r"secret"),
    ("provision --port /dev/nbkit-none --pin 1234 get", 2, r"never taken from the command"),
    ("provision --port /dev/nbkit-none --pin-file {d}/afile identify", 3, r"nbkit-none"),
    # timers, energy, meter
    ("timers decode --t3412 xyz", 1, r"bit string"),
    ("timers encode --t3412 forever", 1, r"duration 'forever'"),
    ("timers", 2, r"required: action"),
    ("energy --model nope", 1, r"no energy profile for 'nope'"),
    ("energy --timeline {d}/missing.jsonl", 1, r"missing\.jsonl"),
    ("energy --timeline {d}/timeline.jsonl", 1, r"timeline"),
    ("energy --profile-file {d}/bad.json", 1, r"bad\.json"),
    ("energy --reports-per-day 0", 1, r"reports"),
    ("energy --mode z", 1, r"mode"),
    ("energy --timeline {d}/bin.dat", 1, r"not a JSON Lines text file"),
    ("energy --profile-file {d}/bin.dat", 1, r"not valid JSON"),
    ("energy --set attach_s=abc", 1, r"attach_s=abc"),
    ("meter decode cjt188 zz", 1, r"not a hex byte string"),
    ("meter decode dlt645 68 11", 1, r"."),
    # emulate, bench, flash, deploy, meterbus
    ("emulate --scenario {d}/scenario.json", 1, r"not valid json"),
    ("emulate --scenario {d}/missing.json", 1, r"missing\.json"),
    ("emulate --scenario {d}/scenario_shape.json", 1, r"scenario"),
    ("emulate --spy {d}/afile/spy.jsonl", 1, r"cannot write the log"),
    ("emulate --clock garbage", 1, r"clock"),
    ("bench --suite nope", 2, r"invalid choice: 'nope'"),
    ("flash --board unix_sim --firmware {d}/firmware.bin", 1, r"no firmware to flash"),
    ("flash --board esp32_bc28 --firmware {d}/missing.bin --port /dev/null", 1, r"missing\.bin"),
    ("deploy --board nope --port /dev/nbkit-none", 1, r"nope"),
    ("meterbus --protocol cjt188 --address 12", 1, r"address"),
    ("meterbus --protocol dlt645 --clock garbage", 1, r"--clock 'garbage'"),
    ("emulate --imei 12", 2, r"IMEI must be 15"),
    ("vboard --flash {d}/v.img --seed-config {d}/missing.json", 1, r"--seed-config .* no such"),
    ("vboard --flash {d}/v.img --pin foo=1", 1, r"no pin 'foo'"),
    ("collect --coap 127.0.0.1:99999 --db {d}/c11.db --keys " + K, 1, r"--coap must be"),
    ("collect --mqtt 127.0.0.1:1 --db {d}/c12.db --keys " + K, 1, r"no MQTT broker"),
    ("readings --db {d}/readings.db --format xml", 2, r"invalid choice: 'xml'"),
    ("nope", 2, r"invalid choice: 'nope'"),
    ("", 2, r"required: COMMAND"),
]


def _nbkit(args: list[str], **kw) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NBKIT_TRACEBACK"}
    return subprocess.run(
        [sys.executable, "-m", "host_tools", *args],
        check=False,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # no controlling terminal: no prompt can be answered
        **kw,
    )


def test_the_table_is_long_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize(("argv", "code", "problem"), CASES, ids=[c[0][:60] for c in CASES])
def test_bad_input_is_a_clear_error(files, busy_udp_port, argv, code, problem):
    args = [a.format(d=files, busy=busy_udp_port) for a in argv.split()]
    proc = _nbkit(args)
    err = proc.stderr
    assert "Traceback" not in err + proc.stdout, err
    assert "bug in nbkit" not in err, err
    assert proc.returncode == code, (proc.returncode, err)
    assert re_search(problem, err), err
    if code == 1:
        assert err.strip().splitlines()[-1].startswith("nbkit"), err


def re_search(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


def test_output_into_a_closed_pipe_exits_quietly_like_a_unix_filter(files):
    shell = (
        f"{sys.executable} -m host_tools readings --db {files}/readings.db | head -1; "
        'echo "status=${PIPESTATUS[0]}" >&2'
    )
    proc = subprocess.run(
        ["bash", "-c", shell], check=False, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.split()[0] == "device"  # head got its line
    lines = proc.stderr.strip().splitlines()
    assert lines == ["status=141"], proc.stderr  # 128 + SIGPIPE, and not a word more


def test_a_database_another_program_locks_is_reported_not_raised(files, tmp_path):
    db = tmp_path / "locked.db"
    Store(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        proc = _nbkit(["readings", "--db", str(db)])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1 and "nbkit:" in proc.stderr and "locked" in proc.stderr


def test_the_last_net_names_an_unexpected_error_and_can_show_its_traceback(monkeypatch, capsys):
    from host_tools import cli
    from host_tools.energy import timers

    def broken(args):
        raise ValueError("a value no check expected")

    monkeypatch.setattr(timers, "run", broken)
    monkeypatch.delenv("NBKIT_TRACEBACK", raising=False)
    assert cli.main(["timers", "decode", "--t3412", "00000001"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nbkit: unexpected ValueError: a value no check expected - ")
    assert "NBKIT_TRACEBACK=1" in err and "Traceback" not in err
    monkeypatch.setenv("NBKIT_TRACEBACK", "1")
    assert cli.main(["timers", "decode", "--t3412", "00000001"]) == 1
    assert "Traceback" in capsys.readouterr().err  # for whoever reports the bug


def test_an_os_error_anywhere_names_the_path_and_what_to_check(monkeypatch, capsys):
    from host_tools import cli
    from host_tools.energy import timers

    def denied(args):
        raise PermissionError(13, "Permission denied", "/srv/nbkit/some.file")

    monkeypatch.setattr(timers, "run", denied)
    assert cli.main(["timers", "decode", "--t3412", "00000001"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "nbkit: /srv/nbkit/some.file: Permission denied - check the path, its folder and "
        "its permissions\n"
    )


def test_a_key_file_others_can_read_is_warned_about(tmp_path, capsys):
    path = tmp_path / "keys.json"
    keyfile.save(path, {1: KEY})
    keyfile.load(path)
    assert "warning" not in capsys.readouterr().err
    os.chmod(path, 0o644)
    assert keyfile.load(path) == {1: KEY}
    assert f"chmod 600 {path}" in capsys.readouterr().err
