"""`nbkit provision` argument handling, secrets policy and reply parsing (no device needed)."""

from __future__ import annotations

import json

import pytest

from host_tools.cli import main
from host_tools.device import provision
from host_tools.errors import CommandError

SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.mark.parametrize(
    "argv",
    [
        ["--pin", "482913", "get"],
        ["--pin=482913", "get"],
        ["--key", SECRET, "unlock"],
        ["key", "set", SECRET],
    ],
)
def test_secrets_on_the_command_line_are_refused_with_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["provision", "--port", "loop://", *argv])
    assert exc.value.code == provision.EXIT_USAGE
    err = capsys.readouterr().err
    assert "never taken from the command line" in err
    assert "482913" not in err and SECRET not in err


def test_help_documents_the_exit_codes_and_the_secrets_policy(capsys):
    with pytest.raises(SystemExit):
        main(["provision", "--help"])
    text = capsys.readouterr().out
    for line in ("0  done", "1  the device refused", "2  usage error", "3  cannot reach"):
        assert line in text
    assert "--pin-file" in text and "never" in text


def test_a_missing_port_exits_3_and_says_which(capsys):
    assert main(["provision", "--port", "/dev/nbkit-no-such-port", "identify"]) == 3
    assert "cannot open /dev/nbkit-no-such-port" in capsys.readouterr().err


def test_something_that_is_not_a_console_times_out_with_exit_3(capsys):
    # loop:// sends our own bytes back: an echo, never an nbkit answer
    argv = ["provision", "--port", "loop://", "--timeout", "0.2", "--json", "identify"]
    assert main(argv) == 3
    out = capsys.readouterr()
    assert json.loads(out.out)["ok"] is False
    assert "no answer from the device within 0.2 s" in out.err


def test_bad_log_count_and_unconfirmed_reset_are_usage_errors(capsys, monkeypatch):
    assert main(["provision", "--port", "loop://", "log", "-n", "0"]) == 2
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["provision", "--port", "loop://", "reset"]) == 2
    assert "add --yes" in capsys.readouterr().err


def test_final_lines_parse_like_at_answers():
    assert provision.parse_final("OK") == (True, 0, "")
    assert provision.parse_final("ERR 422 apn: bad") == (False, 422, "apn: bad")
    assert provision.parse_final("ERR x y") is None
    assert provision.parse_final("OKAY") is None
    assert provision.parse_final("apn: OK") is None


def test_key_files_hold_hex_of_a_sensible_size(tmp_path):
    assert provision.parse_key("00 11:22" + "33" * 13, "f") == bytes.fromhex("001122" + "33" * 13)
    with pytest.raises(CommandError, match="not hex"):
        provision.parse_key("xyz", "f")
    with pytest.raises(CommandError, match="has 4 bytes; 16 to 32"):
        provision.parse_key("00112233", "f")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(CommandError, match="is empty"):
        provision.read_secret_file(str(empty), "key")
    with pytest.raises(CommandError, match="cannot read the service PIN"):
        provision.read_secret_file(str(tmp_path / "missing"), "service PIN")


def test_the_fingerprint_is_the_documented_sha256_prefix():
    import hashlib

    key = bytes(range(16))
    assert provision.key_fingerprint(key) == hashlib.sha256(key).hexdigest()[:16]
