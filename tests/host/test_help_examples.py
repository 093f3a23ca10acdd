"""Every `nbkit COMMAND --help` ends with an example, and every example parses."""

from __future__ import annotations

import shlex

import pytest

from host_tools import cli
from host_tools.cli import EXAMPLES


@pytest.mark.parametrize("name", sorted(cli._COMMANDS))
def test_every_help_shows_an_example(name: str, capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main([name, "--help"])
    assert "example" in capsys.readouterr().out.lower()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_is_a_valid_command_line(name: str) -> None:
    argv = shlex.split(EXAMPLES[name])
    assert argv[:2] == ["nbkit", name]
    args = cli._parser(name).parse_args(argv[1:])
    assert args._module == cli._COMMANDS[name][0]
