"""`nbkit provision` through the board's real console: identify, get, set, selftest, log."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_identify_names_the_firmware_and_the_modem(service, provision):
    code, doc = provision("identify")
    assert code == 0, doc
    facts = doc["result"]
    assert facts["firmware"].startswith("nbkit ")
    assert facts["imei"].isdigit() and len(facts["imei"]) == 15, facts
    assert facts["imsi"].isdigit() and facts["iccid"].isdigit(), facts
    assert facts["signal"].endswith(")"), facts


def test_get_shows_the_stored_config_without_secrets(service, provision):
    code, doc = provision("get")
    assert code == 0, doc
    cfg = doc["result"]
    assert {"device_id", "server_host", "server_port", "read_interval_s"} <= set(cfg), cfg
    assert "key" not in cfg and cfg["service_pin"] in ("(set)", "(none)"), cfg


def test_set_is_validated_and_stored(service, provision):
    code, doc = provision("get", "leak_lph")
    assert code == 0, doc
    old = doc["result"]["leak_lph"]
    code, doc = provision("set", "leak_lph=45", "server_port=0")
    assert code == 1 and "server_port: must be 1..65535" in doc["error"], doc
    assert provision("get", "leak_lph")[1]["result"]["leak_lph"] == old  # all or nothing
    code, doc = provision("set", "leak_lph=45")
    assert code == 0 and doc["result"] == {"leak_lph": "45"}, doc
    assert provision("get", "leak_lph")[1]["result"]["leak_lph"] == "45"
    assert provision("set", f"leak_lph={old}")[0] == 0
    code, doc = provision("log", "-n", "5")
    assert code == 0 and any("service: set leak_lph" in e for e in doc["result"]["log"]), doc


@pytest.mark.needs_collector
def test_selftest_passes_every_check_with_an_acked_uplink(service, provision):
    code, doc = provision("selftest", timeout=60)
    assert code == 0, doc
    checks = {c["name"]: c for c in doc["result"]["checks"]}
    assert list(checks) == ["modem", "sim", "attach", "uplink", "sensor"], checks
    assert all(c["ok"] for c in checks.values()), checks
    assert checks["uplink"]["detail"].startswith("acked by the collector"), checks


def test_the_nbkit_command_prints_readable_output_and_exit_codes(service):
    def nbkit(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "host_tools", "provision", "--port", service.port, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)

    proc = nbkit("identify")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("firmware   nbkit "), proc.stdout
    assert "imei" in proc.stdout and "signal" in proc.stdout, proc.stdout
    proc = nbkit(*service.auth, "set", "read_interval_s=5")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "read_interval_s: must be 10..86400" in proc.stderr, proc.stderr
    proc = nbkit("--pin", "1234", "get")  # a secret on the command line is refused
    assert proc.returncode == 2 and "never taken from the command line" in proc.stderr
