"""Huawei UDP socket commands: NSOCR, NSOST, NSOSTF, NSORF, NSOCL, NSONMI, NQSOS.

Formats (BC68/BC95 logs): ``AT+NSOCR=DGRAM,17,<port>[,<rc>]`` -> bare socket id line;
``AT+NSOST=<s>,<ip>,<port>,<len>,<hex>[,<seq>]`` -> ``<s>,<len>``; ``AT+NSOSTF`` adds a flag
(0x0 / 0x100 exception data / 0x200 release after this / 0x400 release after the reply);
``AT+NSORF=<s>,<max>`` -> ``<s>,<ip>,<port>,<len>,<HEX>,<remaining>`` (one datagram per call,
``remaining`` counts what is left of that datagram), or only OK when nothing is buffered.
With a sequence number the module reports ``+NSOSTR:<s>,<seq>,1`` once the datagram is sent.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from host_tools.emulator.argcheck import BAD_PARAMS, NOT_SUPPORTED, _args, _int, _only, setting
from host_tools.emulator.atparse import Command
from host_tools.emulator.modem import CmdError, Handler, Reply
from host_tools.emulator.network import Uplink

if TYPE_CHECKING:
    from host_tools.emulator.modem import Modem

SOCKET_ERROR = 513  # reused by Huawei firmware as "socket/operation failed"
FLAGS = {0x0, 0x100, 0x200, 0x400}


def nsocr(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "set")
    args = _args(cmd, 3, 6)
    kind, proto = args[0].upper(), args[1]
    if kind == "STREAM" or proto == "6":
        raise CmdError(NOT_SUPPORTED)  # TCP is not part of this firmware persona
    if kind != "DGRAM" or proto != "17":
        raise CmdError(BAD_PARAMS)
    port = _int(args[2], 0, 65535)
    accept = _int(args[3], 0, 1) == 1 if len(args) > 3 and args[3] else True
    if len(args) > 4 and args[4] and args[4].upper() not in ("AF_INET", "1"):
        raise CmdError(NOT_SUPPORTED)
    try:
        usock = m.socks.create(port, accept)
    except OSError:
        raise CmdError(SOCKET_ERROR) from None
    return Reply([str(usock.sid)])


def _payload(m: Modem, length_text: str, hexdata: str) -> bytes:
    length = _int(length_text, 0, 1 << 20)
    if length > m.persona.max_payload:
        raise CmdError(BAD_PARAMS)
    if len(hexdata) != 2 * length:
        raise CmdError(BAD_PARAMS)
    try:
        return bytes.fromhex(hexdata)
    except ValueError:
        raise CmdError(BAD_PARAMS) from None


def _address(ip: str, port: str) -> tuple[str, int]:
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError:
        raise CmdError(BAD_PARAMS) from None
    return str(addr), _int(port, 1, 65535)


def _send(m: Modem, args: list[str], flag: int, payload_at: int) -> Reply:
    usock = m.socks.get(_int(args[0], 0, 255))
    if usock is None:
        raise CmdError(BAD_PARAMS)
    ip, port = _address(args[1], args[2])
    data = _payload(m, args[payload_at], args[payload_at + 1])
    seq = _int(args[payload_at + 2], 0, 255) if len(args) > payload_at + 2 else 0

    def sent() -> None:
        if m.socks.get(usock.sid) is usock:
            m.to_server(usock, ip, port, data)
        if seq:
            pending = m.pending_seq.get(usock.sid, [])
            if seq in pending:
                pending.remove(seq)
                m.urc(f"+NSOSTR:{usock.sid},{seq},1")

    error = m.net.uplink(Uplink(len(data), flag, sent))
    if error is not None:
        raise CmdError(error)
    if seq:
        m.pending_seq.setdefault(usock.sid, []).append(seq)
    return Reply([f"{usock.sid},{len(data)}"])


def nsost(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "set")
    return _send(m, _args(cmd, 5, 6), 0, 3)


def nsostf(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "set")
    args = _args(cmd, 6, 7)
    try:
        flag = int(args[3], 16)
    except ValueError:
        raise CmdError(BAD_PARAMS) from None
    if flag not in FLAGS:
        raise CmdError(BAD_PARAMS)
    return _send(m, args, flag, 4)


def nsorf(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "set")
    args = _args(cmd, 2, 2)
    usock = m.socks.get(_int(args[0], 0, 255))
    if usock is None:
        raise CmdError(BAD_PARAMS)
    got = usock.read(_int(args[1], 1, m.persona.max_payload))
    if got is None:
        return Reply()
    dgram, chunk = got
    return Reply(
        [
            f"{usock.sid},{dgram.ip},{dgram.port},{len(chunk)},{chunk.hex().upper()},"
            f"{dgram.remaining}"
        ]
    )


def nsocl(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "set")
    sid = _int(_args(cmd, 1, 1)[0], 0, 255)
    if not m.socks.close(sid):
        raise CmdError(BAD_PARAMS)
    m.pending_seq.pop(sid, None)
    return Reply()


def nsonmi(m: Modem, cmd: Command) -> Reply:
    if not m.persona.nsonmi_modes:
        raise CmdError(None)  # old BC95 firmware: unknown command
    return setting(m, cmd, "nsonmi", 3, read=f"+NSONMI:{m.nsonmi}", test="+NSONMI:(0,1,2,3)")


def nqsos(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "set")
    sids = [_int(a, 0, 255) for a in _args(cmd, 1, 7)]
    return Reply([f"+NQSOS:{sid},{seq}" for sid in sids for seq in m.pending_seq.get(sid, [])])


COMMANDS: dict[str, Handler] = {
    "+NSOCR": nsocr,
    "+NSOST": nsost,
    "+NSOSTF": nsostf,
    "+NSORF": nsorf,
    "+NSOCL": nsocl,
    "+NSONMI": nsonmi,
    "+NQSOS": nqsos,
}
