"""`mpremote mip install` puts nbkit on a board where `nbkit deploy` would, and the app runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from host_tools import REPO_ROOT
from host_tools.cli import main
from host_tools.device import packaging
from tests.peers.conftest import BIN
from tests.support.vboard import VBoardProcess

pytestmark = pytest.mark.e2e


def test_the_manifest_and_mip_packages_agree_with_the_firmware_files() -> None:
    assert packaging.problems() == []


def test_mip_install_from_a_local_path_then_the_board_boots_the_installed_app(
    tmp_path: Path,
) -> None:
    # 2 MiB: the sources mip installs and the .mpy a deploy stages beside them
    with VBoardProcess(tmp_path / "flash.img", "--flash-size", str(2 * 1024 * 1024)) as vb:
        vb.let_time_run()  # mpremote and the deploy drive it as a real board, in wall time
        vb.expect(b"not provisioned")  # the frozen app: a factory-new board
        done = subprocess.run(
            [
                str(BIN / "mpremote"),
                "connect",
                vb.console,
                "mip",
                "install",
                "--target",
                "/",
                "firmware/package.json",
                "boards/unix_sim.mip.json",
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Installing: //nbkit/app/device.py" in done.stdout
        assert "Installing: //board.json" in done.stdout
        vb.ctl("power cycle")
        vb.expect(b"not provisioned")  # main.py from the flash ran the installed app
        vb.write(b"\r\x03")
        vb.expect(b">>> ")
        vb.write(b"import sys; print(sys.modules['nbkit.app.device'].__file__)\r")
        assert vb.expect(rb"\r\n(\S+)\r\n>>> ").group(1) == b"nbkit/app/device.py"
        # nbkit deploy over it: the .mpy build replaces the sources mip left (x.py would shadow
        # x.mpy), in the same atomic switch as every deploy
        assert main(["deploy", "--board", "unix_sim", "--port", vb.console, "--json"]) == 0
        done = subprocess.run(
            [str(BIN / "mpremote"), "connect", vb.console, "exec", SHOW],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.stdout.split() == ["[]", "nbkit/app/device.mpy"], done.stdout + done.stderr


SHOW = (
    "import os, nbkit.app.device as d\n"
    "print([f for f in os.listdir('nbkit/app') if f.endswith('.py')]); print(d.__file__)"
)
