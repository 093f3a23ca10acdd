"""`nbkit build`: mpy-cross output per board, size report, clear compile errors."""

from __future__ import annotations

import shutil

import pytest

from host_tools import FIRMWARE_DIR
from host_tools.cli import main
from host_tools.device import build
from host_tools.errors import CommandError


def test_build_makes_an_mpy_per_module_with_the_board_arch(tmp_path):
    built = build.build_board("rp2040_bc95", tmp_path)
    out = tmp_path / "rp2040_bc95"
    sources = build.firmware_sources()
    codeless = [rel for rel in sources if build.codeless_package(FIRMWARE_DIR / rel)]
    assert len(built) == len(sources) - len(codeless)
    assert codeless and all(not (out / rel.with_suffix(".mpy")).exists() for rel in codeless)
    for rel in sources:
        if rel in codeless:
            continue
        if rel.as_posix() in build.SOURCE_ENTRY_POINTS:
            assert (out / rel).read_bytes() == (FIRMWARE_DIR / rel).read_bytes()
        else:
            header = (out / rel.with_suffix(".mpy")).read_bytes()[:4]
            assert header[:2] == b"M\x06", header  # .mpy version 6
    assert (out / "board.json").is_file()
    assert not (out / ".check").exists()


def test_a_package_without_code_is_a_directory_micropython_imports_as_a_namespace(tmp_path):
    # nbkit/lte/__init__.py holds only comments: no .mpy for it (a wake would load an empty
    # module and intern its path); the real MicroPython still imports the package's modules
    import subprocess

    from tests.micropython_runner import micropython_binary

    build.build_board("unix_sim", tmp_path)
    out = tmp_path / "unix_sim"
    assert not (out / "nbkit" / "lte" / "__init__.mpy").exists()
    code = "import nbkit.lte.cereg as c; print(c.__name__)"
    env = {"MICROPYPATH": str(out), "PATH": ""}
    cmd = [micropython_binary(), "-c", code]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert proc.stdout.strip() == "nbkit.lte.cereg", proc.stderr


def test_compiled_modules_name_their_source_by_module_name_not_path():
    # the name a traceback gives (`File "nbkit.lte.cereg", line 9`) is the module's own name,
    # interned by the import anyway: a path would cost every wake one more qstr per module
    from pathlib import Path

    assert build.source_name(Path("nbkit/lte/cereg.py")) == "nbkit.lte.cereg"
    assert build.source_name(Path("nbkit/lte/__init__.py")) == "nbkit.lte"
    assert build.source_name(Path("main.py")) == "main"


def test_size_report_lists_every_module_and_the_total(tmp_path, capsys):
    assert main(["build", "--all", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    for board in ("unix_sim", "esp32_bc28", "rp2040_bc95"):
        assert f"== {board} (" in text
        assert (tmp_path / board / "nbkit" / "__init__.mpy").is_file()
    assert "total bytes" in text
    assert "nbkit/__init__.mpy" in text


def test_code_micropython_cannot_compile_fails_with_file_and_line(tmp_path):
    fw = tmp_path / "fw"
    shutil.copytree(FIRMWARE_DIR, fw)
    (fw / "nbkit" / "broken.py").write_text("x = 1\nmatch x:\n    case 1:\n        pass\n")
    with pytest.raises(CommandError) as err:
        build.build_board("esp32_bc28", tmp_path / "out", firmware=fw)
    message = str(err.value)
    assert "firmware/nbkit/broken.py" in message
    assert "line 2" in message
    assert "SyntaxError" in message


def test_unknown_board_exits_1_with_a_message(capsys):
    assert main(["build", "--board", "nope"]) == 1
    assert "unknown board 'nope'" in capsys.readouterr().err


def _profile_of(out, board):
    """What the built nbkit/build_profile.mpy says, run in the real MicroPython."""
    import subprocess

    from host_tools.vboard.mpy import micropython_binary

    proc = subprocess.run(
        [micropython_binary(), "-c", "from nbkit.build_profile import PROFILE; print(PROFILE)"],
        capture_output=True,
        text=True,
        check=True,
        env={"MICROPYPATH": str(out / board)},
    )
    return proc.stdout.strip()


def test_build_profile_reaches_the_firmware(tmp_path, capsys):
    assert main(["build", "--board", "unix_sim", "--out", str(tmp_path / "d")]) == 0
    assert "development build: the Python REPL is open" in capsys.readouterr().out
    assert _profile_of(tmp_path / "d", "unix_sim") == "development"
    out = str(tmp_path / "p")
    assert main(["build", "--board", "unix_sim", "--profile", "production", "--out", out]) == 0
    assert "development" not in capsys.readouterr().out
    assert _profile_of(tmp_path / "p", "unix_sim") == "production"


def test_production_for_an_esp32_without_flash_encryption_is_refused(tmp_path):
    with pytest.raises(CommandError, match="flash is not encrypted.*--i-know-flash-is-readable"):
        build.build_board("esp32_bc28", tmp_path, profile="production")
    assert not (tmp_path / "esp32_bc28").exists(), "nothing built"
    args = ["build", "--board", "esp32_bc28", "--profile", "production", "--out", str(tmp_path)]
    assert main([*args, "--i-know-flash-is-readable"]) == 0
    board = {"name": "x", "port": "esp32", "flash": {"chip": "esp32", "encryption": True}}
    build.check_production(board, flash_readable_ok=False)  # the board data says it is on
    build.check_production({"name": "p", "port": "rp2"}, flash_readable_ok=False)
