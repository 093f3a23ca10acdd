"""What every Huawei-firmware command handler shares (commands, nso, cdp): CME error codes,
argument checks that raise :class:`CmdError`, and the numeric-setting pattern.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from host_tools.emulator.atparse import Command
from host_tools.emulator.modem import CmdError, Reply

if TYPE_CHECKING:
    from host_tools.emulator.modem import Modem

# CME error codes used here
OP_NOT_ALLOWED = 3
NOT_SUPPORTED = 4
BAD_PARAMS = 50


def _int(text: str, lo: int, hi: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise CmdError(BAD_PARAMS) from None
    if not lo <= value <= hi:
        raise CmdError(BAD_PARAMS)
    return value


def _only(cmd: Command, *kinds: str) -> None:
    if cmd.kind not in kinds:
        raise CmdError(NOT_SUPPORTED if cmd.kind == "test" else BAD_PARAMS)


def _args(cmd: Command, lo: int, hi: int) -> list[str]:
    if not lo <= len(cmd.args) <= hi:
        raise CmdError(BAD_PARAMS)
    return cmd.args


def setting(m: Modem, cmd: Command, attr: str, hi: int, *, read: str, test: str | None) -> Reply:
    """A numeric setting 0..hi kept in ``m.<attr>``: read answers ``read``, test ``test``
    (``None``: the module does not support the test form), set stores the one argument."""
    if cmd.kind == "read":
        return Reply([read])
    if cmd.kind == "test" and test is not None:
        return Reply([test])
    _only(cmd, "set")
    setattr(m, attr, _int(_args(cmd, 1, 1)[0], 0, hi))
    return Reply()
