"""`nbkit provision` on a real pty served by the firmware console in the MicroPython unix port.

The device process holds the pty master (as the virtual board does with its console); the tool
opens the /dev/pts/N slave exactly as it would open /dev/ttyUSB0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_tools.cli import main
from host_tools.device import provision
from tests.micropython_runner import REPO, micropython_binary, micropython_env

pytestmark = pytest.mark.e2e

PIN = "482913"  # the test device's service PIN (tests/firmware/console_kit.py)
KEY_HEX = "8f1c2e3d4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0"


class Device:
    """A MicroPython process serving the console on a pty; `port` is the slave path."""

    def __init__(self, failing_check: str | None = None) -> None:
        master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo or line editing before the tool opens the port
        self.port = os.ttyname(self._slave)
        args = [micropython_binary(), "tests/firmware/console_device.py", str(master)]
        self.proc = subprocess.Popen(
            args + ([failing_check] if failing_check else []),
            pass_fds=[master],
            env=micropython_env(),
            cwd=str(REPO),
            stdout=subprocess.PIPE,
            text=True,
        )
        os.close(master)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=5)
        os.close(self._slave)


@pytest.fixture
def device() -> Iterator[Device]:
    dev = Device()
    yield dev
    dev.stop()


@pytest.fixture
def pin_file(tmp_path: Path) -> str:
    path = tmp_path / "pin.txt"
    path.write_text(PIN + "\n")
    return str(path)


@pytest.fixture
def no_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(prompt: str = "") -> str:
        raise AssertionError(f"unexpected prompt: {prompt}")

    monkeypatch.setattr("getpass.getpass", refuse)


def nbkit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["provision", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_identify_needs_no_pin_and_reads_well(device, capsys, no_prompt):
    code, out, err = nbkit(capsys, "--port", device.port, "identify")
    assert code == 0, err
    assert "imei       867723030000001" in out
    assert "firmware   nbkit " in out


def test_a_terminal_left_in_echo_mode_does_not_confuse_the_tool(device, capsys, pin_file):
    client = provision.ConsoleClient.open(device.port, timeout=2)
    try:
        client.port.write(b"echo on\r\nget ap")  # a technician's half-typed line
    finally:
        client.close()
    code, out, err = nbkit(capsys, "--port", device.port, "--pin-file", pin_file, "get", "apn")
    assert (code, out) == (0, "apn  iot.nb\n"), err


def test_identify_json_has_every_fact(device, capsys, no_prompt):
    code, out, _ = nbkit(capsys, "--port", device.port, "--json", "identify")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True and doc["command"] == "identify"
    for key in ("firmware", "device_id", "model", "modem", "imei", "iccid", "imsi", "signal"):
        assert doc["result"][key], key
    assert doc["result"]["iccid"] == "89860317452000000001"


def test_get_unlocks_with_the_pin_file_and_locks_again(device, capsys, pin_file, no_prompt):
    code, out, _ = nbkit(capsys, "--port", device.port, "--pin-file", pin_file, "get")
    assert code == 0
    assert "server           collector.example.net:5683" in out
    code, out, _ = nbkit(
        capsys, "--port", device.port, "--json", "--pin-file", pin_file, "get", "bands"
    )
    assert json.loads(out)["result"] == {"bands": "8,20"}
    # the tool locked the session on its way out: a bare console command is refused again
    client = provision.ConsoleClient.open(device.port, timeout=2)
    try:
        client.sync()
        assert client.command("get apn").code == 401
    finally:
        client.close()


def test_set_then_get_and_invalid_values_change_nothing(device, capsys, pin_file):
    base = ["--port", device.port, "--pin-file", pin_file]
    code, out, _ = nbkit(capsys, *base, "set", "apn=cmnbiot", "bands=3,8", "device_id=wm 7")
    assert code == 1, "a space in device_id is invalid"
    code, out, err = nbkit(capsys, *base, "set", "apn=cmnbiot", "report_s=7200")
    assert code == 0, err
    assert out.splitlines() == ["apn       cmnbiot", "report_s  7200", "saved"]
    code, out, err = nbkit(capsys, *base, "--json", "set", "apn=other", "sample_s=0")
    assert code == 1
    assert json.loads(out)["ok"] is False
    assert "device error 422: sample_s: 0 out of range 1..3600" in err
    code, out, _ = nbkit(capsys, *base, "--json", "get")
    stored = json.loads(out)["result"]
    assert stored["apn"] == "cmnbiot" and stored["report_s"] == "7200"
    assert stored["bands"] == "8,20" and stored["sample_s"] == "60"


def test_a_set_too_long_for_the_device_is_a_usage_error(device, capsys, pin_file):
    pairs = [f"apn={'a' * 60}"] * 4
    code, _, err = nbkit(capsys, "--port", device.port, "--pin-file", pin_file, "set", *pairs)
    assert code == 2 and "split them over several `set` commands" in err


def test_a_wrong_pin_from_the_prompt_exits_1(device, capsys, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "000000")
    code, out, err = nbkit(capsys, "--port", device.port, "get")
    assert code == 1
    assert "unlock: device error 403: wrong PIN" in err
    assert "000000" not in out + err


def test_the_pin_can_come_from_the_prompt(device, capsys, monkeypatch):
    prompts: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": prompts.append(prompt) or PIN)
    code, out, err = nbkit(capsys, "--port", device.port, "unlock")
    assert code == 0, err
    assert prompts == [f"service PIN for the device on {device.port}: "]
    assert PIN not in out + err


def test_key_set_from_a_file_shows_only_a_verified_fingerprint(
    device, capsys, pin_file, tmp_path, no_prompt
):
    key_file = tmp_path / "dev.key"
    key_file.write_text(KEY_HEX + "\n")
    fp = provision.key_fingerprint(bytes.fromhex(KEY_HEX))
    base = ["--port", device.port, "--pin-file", pin_file]
    code, out, err = nbkit(capsys, *base, "key", "set", "--key-file", str(key_file))
    assert code == 0, err
    assert out.strip() == f"key stored, fingerprint {fp} (matches the key given)"
    code, out, _ = nbkit(capsys, *base, "--json", "key", "fingerprint")
    assert json.loads(out)["result"] == {"fingerprint": fp}
    # with the key on the device, challenge-response replaces the PIN
    auth = ["--port", device.port, "--auth-key-file", str(key_file)]
    code, out, err = nbkit(capsys, *auth, "get", "apn")
    assert (code, out) == (0, "apn  iot.nb\n"), err
    wrong = tmp_path / "wrong.key"
    wrong.write_text("11" * 32)
    code, _, err = nbkit(capsys, "--port", device.port, "--auth-key-file", str(wrong), "get")
    assert code == 1 and "wrong response" in err
    assert KEY_HEX not in out + err


def test_key_set_from_the_prompt(device, capsys, pin_file, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": KEY_HEX[:32])
    base = ["--port", device.port, "--pin-file", pin_file, "--json"]
    code, out, _ = nbkit(capsys, *base, "key", "set")
    doc = json.loads(out)
    assert code == 0 and doc["result"]["verified"] is True
    assert KEY_HEX[:32] not in out


def test_selftest_passes_readable_and_json(device, capsys, pin_file):
    base = ["--port", device.port, "--pin-file", pin_file]
    code, out, _ = nbkit(capsys, *base, "selftest")
    assert code == 0
    assert out.splitlines()[0] == "PASS  modem    AT answered"
    assert out.splitlines()[-1] == "5 of 5 checks passed"
    code, out, _ = nbkit(capsys, *base, "--json", "selftest")
    checks = json.loads(out)["result"]["checks"]
    assert [c["name"] for c in checks] == ["modem", "sim", "attach", "uplink", "sensor"]
    assert all(c["ok"] for c in checks)


def test_a_failing_selftest_shows_every_check_and_exits_1(capsys, pin_file):
    dev = Device(failing_check="sim")
    try:
        base = ["--port", dev.port, "--pin-file", pin_file]
        code, out, err = nbkit(capsys, *base, "selftest")
        assert code == 1
        assert "FAIL  sim      no answer" in out and "4 of 5 checks passed" in out
        assert "selftest failed: sim" in err
        code, out, _ = nbkit(capsys, *base, "--json", "selftest")
        doc = json.loads(out)
        assert doc["ok"] is False and doc["result"]["checks"][1]["ok"] is False
    finally:
        dev.stop()


def test_log_reads_the_newest_events(device, capsys, pin_file):
    base = ["--port", device.port, "--pin-file", pin_file]
    code, out, _ = nbkit(capsys, *base, "log", "-n", "2")
    assert (code, out) == (0, "report sent seq=1\nack seq=1\n")
    code, out, _ = nbkit(capsys, *base, "--json", "log")
    assert json.loads(out)["result"]["log"][0] == "boot nbkit"


def test_factory_reset_erases_the_configuration(device, capsys, pin_file):
    base = ["--port", device.port, "--pin-file", pin_file]
    assert nbkit(capsys, *base, "set", "apn=custom")[0] == 0
    code, out, _ = nbkit(capsys, *base, "reset", "--yes")
    assert code == 0 and "factory reset done" in out
    assert nbkit(capsys, *base, "get", "apn")[1] == "apn  iot.nb\n"


def test_a_device_that_stops_answering_exits_3(capsys):
    dev = Device()
    dev.proc.send_signal(signal.SIGSTOP)  # the port is there, the firmware hangs
    try:
        code, _, err = nbkit(capsys, "--port", dev.port, "--timeout", "0.3", "identify")
        assert code == 3 and "no answer from the device within 0.3 s" in err
    finally:
        dev.stop()


def test_the_installed_command_gives_the_documented_exit_codes(device, pin_file):
    nbkit_bin = Path(sys.executable).parent / "nbkit"

    def run(*argv: str) -> int:
        return subprocess.run(
            [str(nbkit_bin), "provision", *argv], capture_output=True, timeout=30, check=False
        ).returncode

    assert run("--port", device.port, "identify") == 0
    assert run("--port", device.port, "--pin-file", pin_file, "set", "apn=") == 1
    assert run("--port", device.port, "--pin", PIN, "get") == 2
    assert run("--port", "/dev/nbkit-no-such-port", "identify") == 3


def test_pyserial_urls_work_too_spy_logs_the_traffic(device, capsys, tmp_path):
    log = tmp_path / "spy.txt"
    code, out, err = nbkit(capsys, "--port", f"spy://{device.port}?file={log}", "identify")
    assert code == 0, err
    assert "imei       867723030000001" in out
    assert "identify" in log.read_text()
