"""`nbkit deploy` does not let the device's manifest decide what it deletes (issue 16 #6).

A board's ``.deploy/manifest.json`` is written by the board: whoever has the board can change
it. These run the real deploy against MicroPython on a pty whose filesystem is a folder, so a
``..`` in the manifest would reach outside the board exactly as on a unix-port device.
"""

from __future__ import annotations

import json
import shutil

import pytest

from host_tools import FIRMWARE_DIR
from host_tools.device import boards, build, deploy
from host_tools.device.deploy_manifest import check_manifest, removal_refused, unsafe_path
from host_tools.errors import CommandError
from tests.support.repl_pty import micropython_on_pty

DIGEST = "0" * 64


@pytest.fixture(scope="module")
def app_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    fw = out / "fw"
    shutil.copytree(FIRMWARE_DIR, fw)
    build.build_board("unix_sim", out, firmware=fw)
    return out / "unix_sim"


def _deploy(port: str, build_dir, **kw) -> deploy.Plan:
    device = deploy.Device(port)
    try:
        return deploy.deploy(device, boards.load("unix_sim"), build_dir, progress=False, **kw)
    finally:
        device.close()


def _tamper(board_fs, extra: dict) -> None:
    path = board_fs / ".deploy" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(extra)
    path.write_text(json.dumps(manifest))


def test_config_keys_and_boot_listed_in_the_manifest_are_kept(tmp_path, app_build):
    board_fs = tmp_path / "device"
    board_fs.mkdir()
    precious = {"config.json": "{}", "boot.py": "# boot", "device.key": "00", "notes.txt": "x"}
    for name, text in precious.items():
        (board_fs / name).write_text(text)
    (board_fs / "nbkit").mkdir()
    (board_fs / "nbkit" / "old_module.mpy").write_bytes(b"M")
    with micropython_on_pty(board_fs) as port:
        _deploy(port, app_build)
        _tamper(board_fs, {name: DIGEST for name in [*precious, "nbkit/old_module.mpy"]})
        done = _deploy(port, app_build)
    for name in precious:
        assert (board_fs / name).exists(), f"{name} was deleted on the manifest's word"
    assert sorted(path for path, _ in done.kept) == sorted(precious)
    assert done.remove == ["nbkit/old_module.mpy"]  # an app file the new build lacks: removed
    assert not (board_fs / "nbkit" / "old_module.mpy").exists()


def test_a_protected_file_goes_only_when_named_explicitly(tmp_path, app_build):
    board_fs = tmp_path / "device"
    board_fs.mkdir()
    (board_fs / "boot.py").write_text("# old boot")
    with micropython_on_pty(board_fs) as port:
        _deploy(port, app_build)
        _tamper(board_fs, {"boot.py": DIGEST})
        done = _deploy(port, app_build, allow_remove=frozenset({"boot.py"}))
    assert done.remove == ["boot.py"] and not (board_fs / "boot.py").exists()


@pytest.mark.parametrize(
    "bad", ["../outside.txt", "nbkit/../../outside.txt", "/etc/nbkit-outside", "nbkit//x.mpy"]
)
def test_a_path_leaving_the_app_is_an_error_and_nothing_changes(tmp_path, app_build, bad):
    board_fs = tmp_path / "device"
    board_fs.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("not the board's")
    with micropython_on_pty(board_fs) as port:
        _deploy(port, app_build)
        _tamper(board_fs, {bad: DIGEST})
        before = (board_fs / ".deploy" / "manifest.json").read_text()
        with pytest.raises(CommandError, match="damaged or tampered") as err:
            _deploy(port, app_build, full=True)
    assert "mpremote rm" in str(err.value)
    assert outside.read_text() == "not the board's"
    assert (board_fs / ".deploy" / "manifest.json").read_text() == before


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON list"),
        ('"main.py"', "JSON str"),
        ('{"main.py": 5}', "not 64 hex digits"),
        ('{"main.py": "zz"}', "not 64 hex digits"),
        ("\xff\xfe", "not valid JSON"),
    ],
)
def test_a_malformed_manifest_is_a_clear_error(tmp_path, app_build, text, problem):
    board_fs = tmp_path / "device"
    (board_fs / ".deploy").mkdir(parents=True)
    (board_fs / ".deploy" / "manifest.json").write_bytes(text.encode("latin-1"))
    with micropython_on_pty(board_fs) as port, pytest.raises(CommandError, match=problem):
        _deploy(port, app_build)
    assert not (board_fs / "main.py").exists()  # refused before anything was copied


def test_path_rules():
    for bad in ["", "/x", "..", "a/../b", "./a", "a//b", "a\\b", "a\nb", "x" * 256, 5]:
        assert unsafe_path(bad), bad
    assert unsafe_path("nbkit/app/meter.mpy") is None
    local = {"main.py": DIGEST, "board.json": DIGEST, "nbkit/__init__.mpy": DIGEST}
    assert removal_refused("nbkit/gone.mpy", local) is None
    assert "outside the app" in removal_refused("data/readings.bin", local)
    for name in ("config.json", "boot.py", "events.log", "nbkit/key.bin", "certs/ca.pem"):
        assert "protected" in removal_refused(name, local), name
    assert check_manifest(None, "m") == {}


def _journal(board_fs, remove: list, moves: list | None = None) -> None:
    manifest = json.loads((board_fs / ".deploy" / "manifest.json").read_text())
    journal = {"moves": moves or [], "remove": remove, "manifest": manifest}
    (board_fs / ".deploy" / "journal.json").write_text(json.dumps(journal))


@pytest.mark.parametrize(
    ("remove", "moves"),
    [
        (["../outside.txt"], None),
        (["config.json"], None),
        ([], [[".deploy/stage/x", "../outside.txt"]]),
        ([], [["/etc/hostname", "main.py"]]),
        ("everything", None),
    ],
)
def test_a_tampered_pending_journal_is_refused_not_applied(tmp_path, app_build, remove, moves):
    board_fs = tmp_path / "device"
    board_fs.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("not the board's")
    (board_fs / "config.json").write_text("{}")
    with micropython_on_pty(board_fs) as port:
        _deploy(port, app_build)
        _journal(board_fs, remove, moves)
        with pytest.raises(CommandError, match="journal.json") as err:
            _deploy(port, app_build)
    assert "mpremote rm :.deploy/journal.json" in str(err.value)
    assert outside.read_text() == "not the board's" and (board_fs / "config.json").exists()


def test_a_pending_journal_of_app_files_is_finished(tmp_path, app_build):
    board_fs = tmp_path / "device"
    board_fs.mkdir()
    with micropython_on_pty(board_fs) as port:
        _deploy(port, app_build)
        (board_fs / "nbkit" / "gone.mpy").write_bytes(b"M")
        _journal(board_fs, ["nbkit/gone.mpy"])
        _deploy(port, app_build)
    assert not (board_fs / "nbkit" / "gone.mpy").exists()
    assert not (board_fs / ".deploy" / "journal.json").exists()
