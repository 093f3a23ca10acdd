"""The `nbkit` command table: each command's module is imported only when that command runs."""

from __future__ import annotations

import subprocess
import sys

from host_tools import cli

PROBE = """
import contextlib, io, sys
from host_tools import cli
with contextlib.redirect_stdout(io.StringIO()):
    code = cli.main({argv!r})
rooms = sorted(m for m in sys.modules if m.startswith("host_tools.") and m.count(".") >= 2)
print(code, " ".join(rooms))
"""


def _modules_loaded_by(argv: list[str]) -> tuple[int, set[str]]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    return int(out[0]), set(out[1:])


def test_a_command_imports_only_its_own_module() -> None:
    code, loaded = _modules_loaded_by(["timers", "decode", "--t3412", "00100010", "--json"])
    assert code == 0
    assert "host_tools.energy.timers" in loaded
    assert not {m for m in loaded if m.startswith(("host_tools.rig", "host_tools.vboard"))}
    assert "host_tools.device.build" not in loaded


def test_every_command_in_the_table_has_configure_and_run() -> None:
    import importlib

    for name, (module, help_text) in cli._COMMANDS.items():
        mod = importlib.import_module(module)
        assert callable(mod.configure) and callable(mod.run), name
        assert help_text, name
