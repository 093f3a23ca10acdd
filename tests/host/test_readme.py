"""The README documents what works: its wiring tables are the board data's, its commands exist."""

from __future__ import annotations

import re

from host_tools import REPO_ROOT
from host_tools.cli import _COMMANDS
from host_tools.device import boards

README = (REPO_ROOT / "README.md").read_text()


def test_wiring_tables_in_the_readme_are_generated_from_the_board_data():
    for name in boards.board_names():
        board = boards.load(name)
        if board["port"] != "unix":
            assert boards.wiring_table(board) in README, f"README wiring of {name} is stale"


def test_every_nbkit_command_the_readme_names_exists():
    named = set(re.findall(r"\bnbkit ([a-z]+)\b", README))
    assert named, "the README shows no nbkit command"
    assert named <= set(_COMMANDS) | {"demo"}, named - set(_COMMANDS)


def test_the_readme_shows_the_two_commands():
    assert "make demo" in README and "make test" in README
