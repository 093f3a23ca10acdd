"""AT commands of a recorded session, from the emulator's spy log, split by where they go.

An AT command either makes the module transmit (it reaches the network: the air path) or is
answered by the module alone (local: no radio time, only UART bytes). After a wake from PSM a
report should cost one air command (the NSOSTF) plus what the reply needs (local NSORF reads).

Air: ``AT+NSOST``/``AT+NSOSTF`` (an uplink), ``AT+CFUN=1``/``AT+CGATT=1``/``AT+COPS=0``
(search + attach), ``AT+CFUN=0``/``AT+CGATT=0`` (detach signalling), ``AT+CPSMS=``/
``AT+CEDRXS=``/``AT+NPTWEDRXS=`` while registered (sent in a TAU). Everything else (``AT``,
``AT+CEREG?``, ``AT+NSOCR``, ``AT+NSORF``, ``AT+NSOCL``, settings) is local. The CPSMS/CEDRXS
rule is approximate: this classifier does not know whether the module was registered, so the
requests count as air (they are, when sent before attach, carried in the attach that follows).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

AIR_PREFIXES = (
    "AT+NSOST=",
    "AT+NSOSTF=",
    "AT+CFUN=1",
    "AT+CFUN=0",
    "AT+CGATT=1",
    "AT+CGATT=0",
    "AT+COPS=0",
    "AT+CPSMS=",
    "AT+CEDRXS=",
    "AT+NPTWEDRXS=",
)
#: commands that (re-)attach: none of them may follow a wake from PSM
ATTACH_PREFIXES = ("AT+CFUN=1", "AT+CGATT=1", "AT+COPS=0")


def commands_from_spy(records: Iterable[dict[str, Any]]) -> list[tuple[float, str]]:
    """Every command line the DTE wrote, with the virtual time its last byte arrived."""
    out: list[tuple[float, str]] = []
    pending = b""
    for rec in records:
        if rec.get("dir") != "to_modem":
            continue
        pending += bytes.fromhex(rec["hex"])
        while b"\r" in pending:
            line, pending = pending.split(b"\r", 1)
            text = line.strip(b"\n").decode("latin-1").strip()
            if text:
                out.append((float(rec["t"]), text))
    return out


def on_air(command: str) -> bool:
    """True when ``command`` makes the module transmit (see the module docstring)."""
    return command.upper().startswith(AIR_PREFIXES)


def short(command: str) -> str:
    """The command without its arguments: ``AT+NSOSTF=1,...`` -> ``AT+NSOSTF``."""
    for sep in ("=", "?"):
        head, found, _ = command.partition(sep)
        if found:
            return head + ("?" if sep == "?" else "")
    return command


def split(commands: Iterable[str]) -> tuple[list[str], list[str]]:
    """(air commands, local commands), each in order, by their short names."""
    air: list[str] = []
    local: list[str] = []
    for cmd in commands:
        (air if on_air(cmd) else local).append(short(cmd))
    return air, local
