"""Handlers of the 27.007 subset and Huawei ``AT+N...`` commands (sockets in :mod:`nso`).

Each handler takes the modem and the parsed command and returns a :class:`Reply` or raises
:class:`CmdError`. Response texts follow the Huawei firmware: no space after the colon,
unquoted TAC/CI, bare lines for ``AT+CIMI`` and ``AT+CGSN``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from nbkit.lte import timers  # type: ignore[import-not-found,unused-ignore]

from host_tools.emulator import cdp, nso
from host_tools.emulator.argcheck import (
    BAD_PARAMS,
    NOT_SUPPORTED,
    _args,
    _int,
    _only,
    setting,
)
from host_tools.emulator.atparse import Command
from host_tools.emulator.modem import AT_CAUSE, CmdError, Handler, Reply, cereg_text

if TYPE_CHECKING:
    from host_tools.emulator.modem import Modem

# -- basic ------------------------------------------------------------------------------------


def at(m: Modem, cmd: Command) -> Reply:
    return Reply()


def echo(m: Modem, cmd: Command) -> Reply:
    m.echo = cmd.name == "E1"
    return Reply()


def nrb(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "exec")
    m.reboot(AT_CAUSE)
    return Reply(["REBOOTING"], final=None)


def cmee(m: Modem, cmd: Command) -> Reply:
    return setting(m, cmd, "cmee", 1, read=f"+CMEE:{m.cmee}", test="+CMEE:(0,1)")


def nconfig(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "read":
        return Reply([f"+NCONFIG:{k},{v}" for k, v in m.nconfig.items()])
    if cmd.kind == "test":
        return Reply([f"+NCONFIG:({k},(FALSE,TRUE))" for k in m.nconfig])
    _only(cmd, "set")
    key, value = _args(cmd, 2, 2)
    key, value = key.upper(), value.upper()
    if key not in m.nconfig or value not in ("TRUE", "FALSE"):
        raise CmdError(BAD_PARAMS)
    m.nconfig[key] = value  # stored in NV; read at the next boot
    return Reply()


def nband(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "read":
        return Reply(["+NBAND:" + ",".join(map(str, m.bands))])
    if cmd.kind == "test":
        return Reply(["+NBAND:(" + ",".join(map(str, m.persona.bands)) + ")"])
    _only(cmd, "set")
    bands = [_int(a, 1, 255) for a in _args(cmd, 1, 16)]
    if any(b not in m.persona.bands for b in bands):
        raise CmdError(BAD_PARAMS)
    m.bands = bands
    return Reply()


def cgdcont(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "read":
        return Reply(
            [
                f'+CGDCONT:{cid},"{t}","{apn}",,0,0,,,,,0'
                for cid, (t, apn) in sorted(m.cgdcont.items())
            ]
        )
    if cmd.kind == "test":
        return Reply(['+CGDCONT:(0-10),("IP","NONIP","IPV6","IPV4V6"),,,(0),(0),,,,,(0,1)'])
    _only(cmd, "set")
    args = _args(cmd, 1, 12)
    cid = _int(args[0], 0, 10)
    if len(args) == 1:
        m.cgdcont.pop(cid, None)
        return Reply()
    pdp = args[1].upper()
    if pdp not in ("IP", "NONIP", "IPV6", "IPV4V6"):
        raise CmdError(BAD_PARAMS)
    m.cgdcont[cid] = (pdp, args[2] if len(args) > 2 else "")
    return Reply()


# -- radio and registration ------------------------------------------------------------------


def cfun(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "read":
        return Reply([f"+CFUN:{m.net.cfun}"])
    if cmd.kind == "test":
        return Reply(["+CFUN:(0,1),(0)"])
    _only(cmd, "set")
    args = _args(cmd, 1, 2)
    m.net.set_cfun(_int(args[0], 0, 1))
    return Reply()


def cgatt(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "read":
        return Reply([f"+CGATT:{int(m.net.registered)}"])
    if cmd.kind == "test":
        return Reply(["+CGATT:(0,1)"])
    _only(cmd, "set")
    if _int(_args(cmd, 1, 1)[0], 0, 1):
        m.net.attach()
        m.net.settle()
    else:
        m.net.detach()
    return Reply()


def cereg(m: Modem, cmd: Command) -> Reply:
    return setting(
        m, cmd, "cereg_n", 5, read=cereg_text(m, read=True), test="+CEREG:(0,1,2,3,4,5)"
    )


def cscon(m: Modem, cmd: Command) -> Reply:
    return setting(
        m, cmd, "cscon_n", 1, read=f"+CSCON:{m.cscon_n},{int(m.net.rrc)}", test="+CSCON:(0,1)"
    )


def npsmr(m: Modem, cmd: Command) -> Reply:
    read = f"+NPSMR:{m.npsmr_n},{int(m.net.psm)}" if m.npsmr_n else f"+NPSMR:{m.npsmr_n}"
    return setting(m, cmd, "npsmr_n", 1, read=read, test="+NPSMR:(0,1)")


_RSSI_BY_CE = (22, 12, 5)
_RADIO_BY_CE = (
    (-719, -651, 230, 168, 0),
    (-1009, -941, 230, 35, -12),
    (-1234, -1160, 230, -65, -17),
)


def csq(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "exec")
    if not m.net.camped:  # no cell yet (searching, or none there): 99 = unknown
        return Reply(["+CSQ:99,99"])
    return Reply([f"+CSQ:{_RSSI_BY_CE[m.net.ce]},99"])


def nuestats(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "exec", "set")
    if cmd.kind == "set" and [a.upper() for a in cmd.args] != ["RADIO"]:
        raise CmdError(NOT_SUPPORTED)
    net = m.net
    if net.registered:
        sig, total, txp, snr, rsrq = _RADIO_BY_CE[net.ce]
        cell, ecl, earfcn, pci = int(net.cfg.ci, 16), net.ce, 2509, 226
    else:
        sig = total = snr = rsrq = -32768
        txp, cell, ecl, earfcn, pci = -32768, 4294967295, 255, 4294967295, 65535
    return Reply(
        [
            f"Signal power:{sig}",
            f"Total power:{total}",
            f"TX power:{txp}",
            f"TX time:{net.tx_ms}",
            f"RX time:{net.rx_ms}",
            f"Cell ID:{cell}",
            f"ECL:{ecl}",
            f"SNR:{snr}",
            f"EARFCN:{earfcn}",
            f"PCI:{pci}",
            f"RSRQ:{rsrq}",
            "OPERATOR MODE:4",
        ]
    )


# -- identity ---------------------------------------------------------------------------------


def cgsn(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "exec":
        return Reply([m.opts.imei])
    if cmd.kind == "test":
        return Reply(["+CGSN:(0,1,2,3)"])
    _only(cmd, "set")
    if _int(_args(cmd, 1, 1)[0], 0, 3) != 1:
        raise CmdError(NOT_SUPPORTED)
    return Reply([f"+CGSN:{m.opts.imei}"])


def cimi(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "exec")
    return Reply([m.opts.imsi])


def nccid(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "exec", "read")
    return Reply([f"+NCCID:{m.opts.iccid}"])


def cgmr(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "exec")
    return Reply(list(m.persona.cgmr))


def cgpaddr(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "test":
        return Reply(["+CGPADDR:(0)"])
    _only(cmd, "exec", "set")
    if cmd.kind == "set" and _int(_args(cmd, 1, 1)[0], 0, 10) != 0:
        return Reply()
    if not m.net.registered:
        return Reply(["+CGPADDR:0"])
    octet = int(m.opts.imsi[-2:]) % 250 + 2
    return Reply([f"+CGPADDR:0,10.64.{int(m.opts.imsi[-4:-2]) % 250}.{octet}"])


# -- PSM and eDRX -----------------------------------------------------------------------------


def _bits(text: str, check: Callable[[str], object]) -> str:
    bits = text.strip('"')
    try:
        check(bits)
    except ValueError:
        raise CmdError(BAD_PARAMS) from None
    return bits


def cpsms(m: Modem, cmd: Command) -> Reply:
    net = m.net
    if cmd.kind == "read":
        return Reply([f"+CPSMS:{net.psm_mode},,,{net.req_tau},{net.req_active}"])
    if cmd.kind == "test":
        return Reply(['+CPSMS:(0,1,2),,,("00000000"-"11111111"),("00000000"-"11111111")'])
    _only(cmd, "set")
    args = _args(cmd, 1, 5)
    mode = _int(args[0], 0, 2)
    if len(args) > 3 and args[3]:
        net.req_tau = _bits(args[3], timers.decode_t3412)
    if len(args) > 4 and args[4]:
        net.req_active = _bits(args[4], timers.decode_t3324)
    if mode == 2:
        mode, net.req_tau, net.req_active = 0, "00111000", "00000101"
    net.psm_mode = mode
    net.request_changed()
    return Reply()


def cedrxs(m: Modem, cmd: Command) -> Reply:
    net = m.net
    if cmd.kind == "read":
        return Reply([f'+CEDRXS:5,"{net.req_edrx}"'] if net.edrx_mode in (1, 2) else [])
    if cmd.kind == "test":
        return Reply(['+CEDRXS:(0,1,2,3),(5),("0000"-"1111")'])
    _only(cmd, "set")
    args = _args(cmd, 1, 3)
    mode = _int(args[0], 0, 3)
    if len(args) > 1 and args[1] and _int(args[1], 0, 5) != 5:
        raise CmdError(BAD_PARAMS)
    if len(args) > 2 and args[2]:
        net.req_edrx = _bits(args[2], timers.decode_edrx_ms)
    if mode == 3:
        mode, net.req_edrx = 0, "0101"
    net.edrx_mode = mode
    net.request_changed()
    return Reply()


def cedrxrdp(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "exec")
    net = m.net
    if not net.registered or not net.granted_edrx:
        return Reply(["+CEDRXRDP:0"])
    return Reply([f'+CEDRXRDP:5,"{net.req_edrx}","{net.granted_edrx}","0011"'])


def cops(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "read":
        return Reply(['+COPS:0,2,"46011"'] if m.net.registered else ["+COPS:0"])
    if cmd.kind == "test":
        return Reply(['+COPS:(2,"","","46011"),,(0-2),(2)'])
    _only(cmd, "set")
    mode = _int(_args(cmd, 1, 4)[0], 0, 2)
    if mode == 2:
        m.net.detach()
    else:
        m.net.attach()
        m.net.settle()
    return Reply()


def cclk(m: Modem, cmd: Command) -> Reply:
    """Network time (NITZ) on the virtual clock, UTC; nothing before the first registration."""
    _only(cmd, "read")
    if not m.net.registered:
        return Reply()
    stamp = time.strftime("%y/%m/%d,%H:%M:%S", time.gmtime(m.reactor.now()))
    return Reply([f"+CCLK:{stamp}+00"])


def qregswt(m: Modem, cmd: Command) -> Reply:
    """Huawei IoT platform auto-registration switch (accepted, no platform is emulated)."""
    return setting(m, cmd, "qregswt", 2, read=f"+QREGSWT:{m.qregswt}", test=None)


def _commands() -> dict[str, Handler]:
    table: dict[str, Handler] = {
        "": at,
        "E": echo,
        "E0": echo,
        "E1": echo,
        "+NRB": nrb,
        "+CMEE": cmee,
        "+NCONFIG": nconfig,
        "+NBAND": nband,
        "+CGDCONT": cgdcont,
        "+CFUN": cfun,
        "+CGATT": cgatt,
        "+CEREG": cereg,
        "+CSCON": cscon,
        "+NPSMR": npsmr,
        "+CSQ": csq,
        "+NUESTATS": nuestats,
        "+CGSN": cgsn,
        "+CIMI": cimi,
        "+NCCID": nccid,
        "+CGMR": cgmr,
        "+CGPADDR": cgpaddr,
        "+CPSMS": cpsms,
        "+CEDRXS": cedrxs,
        "+CEDRXRDP": cedrxrdp,
        "+COPS": cops,
        "+CCLK": cclk,
        "+QREGSWT": qregswt,
    }
    table.update(nso.COMMANDS)
    table.update(cdp.COMMANDS)
    return table


COMMANDS = _commands()
