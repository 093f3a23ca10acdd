"""The Quectel-firmware command table (``ec200``, ``bc26`` personas): the 27.007 subset in the
Quectel layout and the PDP context commands here, QI sockets from :mod:`.qsock`, MQTT from
:mod:`.qmqtt`. The modem itself (framing, data mode, URCs) is :mod:`.quectel`.
"""

from __future__ import annotations

from host_tools.emulator import qmqtt, qsock
from host_tools.emulator.atparse import Command
from host_tools.emulator.modem import AT_CAUSE, CmdError, Handler, Modem, Reply
from host_tools.emulator.quectel import BAD_PARAMS, NOT_ALLOWED, _args, _int, q
from host_tools.emulator.uart import BAUD_RATES


def at(m: Modem, cmd: Command) -> Reply:
    return Reply()


def echo(m: Modem, cmd: Command) -> Reply:
    m.echo = cmd.name == "E1"
    return Reply()


def ati(m: Modem, cmd: Command) -> Reply:
    return Reply([m.persona.vendor, m.persona.name, f"Revision: {m.persona.cgmr[0]}"])


def cgmr(m: Modem, cmd: Command) -> Reply:
    return Reply([m.persona.cgmr_prefix + line for line in m.persona.cgmr])


def cmee(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "read":
        return Reply([f"+CMEE: {m.cmee}"])
    if cmd.kind == "test":
        return Reply(["+CMEE: (0-2)"])
    m.cmee = 1 if _int(_args(cmd, 1, 1)[0], 0, 2) else 0
    return Reply()


def ipr(m: Modem, cmd: Command) -> Reply:
    # AT+IPR=<rate>: OK at the old rate, then both directions at the new one (device time:
    # every byte costs 10 bits at the rate, host_tools.emulator.uart)
    if cmd.kind == "read":
        return Reply([f"+IPR: {m.output.baud}"])
    if cmd.kind == "test":
        return Reply([f"+IPR: (),({','.join(map(str, BAUD_RATES))})"])
    rate = _int(_args(cmd, 1, 1)[0], 0, max(BAUD_RATES))
    if rate not in BAUD_RATES:
        raise CmdError(BAD_PARAMS)
    m.reactor.call_later(0.0, lambda: m.set_baud(rate))  # after the OK is queued
    return Reply()


def cpin(m: Modem, cmd: Command) -> Reply:
    if cmd.kind != "read":
        raise CmdError(NOT_ALLOWED)
    return Reply(["+CPIN: READY"])


def cfun(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "read":
        return Reply([f"+CFUN: {m.net.cfun}"])
    if cmd.kind == "test":
        return Reply(["+CFUN: (0,1,4),(0-1)"])
    args = _args(cmd, 1, 2)
    fun = _int(args[0], 0, 4)
    if len(args) == 2 and _int(args[1], 0, 1) == 1:
        m.reboot(AT_CAUSE)
        return Reply()
    if fun != 1:
        q(m).active.clear()
    m.net.set_cfun(1 if fun == 1 else 0)
    return Reply()


def _reg(name: str) -> Handler:
    attr = {"CEREG": "cereg_n", "CGREG": "cgreg_n", "CREG": "creg_n"}[name]

    def handler(m: Modem, cmd: Command) -> Reply:
        if cmd.kind == "read":
            return Reply([q(m).reg_text(name, getattr(m, attr), read=True)])
        if cmd.kind == "test":
            return Reply([f"+{name}: (0-2)"])
        setattr(m, attr, _int(_args(cmd, 1, 1)[0], 0, 5 if name == "CEREG" else 2))
        return Reply()

    return handler


def csq(m: Modem, cmd: Command) -> Reply:
    return Reply(["+CSQ: 22,99" if m.net.registered else "+CSQ: 99,99"])


def cgsn(m: Modem, cmd: Command) -> Reply:
    return Reply([m.opts.imei])


def cimi(m: Modem, cmd: Command) -> Reply:
    return Reply([m.opts.imsi])


def qccid(m: Modem, cmd: Command) -> Reply:
    return Reply([f"+QCCID: {m.opts.iccid}"])


def cgatt(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "read":
        return Reply([f"+CGATT: {int(m.net.registered)}"])
    if _int(_args(cmd, 1, 1)[0], 0, 1):
        m.net.attach()
        m.net.settle()
    else:
        q(m).active.clear()
        m.net.detach()
    return Reply()


def cops(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "read":
        act = m.persona.act
        return Reply([f'+COPS: 0,0,"CHINA MOBILE",{act}'] if m.net.registered else ["+COPS: 0"])
    return Reply()


def qicsgp(m: Modem, cmd: Command) -> Reply:
    mq = q(m)
    args = _args(cmd, 1, 6)
    cid = _int(args[0], 1, 15)
    if len(args) == 1:
        apn, user, pwd, auth = mq.contexts.get(cid, ("", "", "", 0))
        return Reply([f'+QICSGP: 1,"{apn}","{user}","{pwd}",{auth}'])
    if _int(args[1], 1, 3) != 1:
        raise CmdError(BAD_PARAMS)
    apn = args[2] if len(args) > 2 else ""
    user = args[3] if len(args) > 3 else ""
    pwd = args[4] if len(args) > 4 else ""
    auth = _int(args[5], 0, 3) if len(args) > 5 else 0
    mq.contexts[cid] = (apn, user, pwd, auth)
    return Reply()


def ip_address(m: Modem) -> str:
    """The address the network gave this UE (stable per IMSI)."""
    return f"10.64.{int(m.opts.imsi[-4:-2]) % 250}.{int(m.opts.imsi[-2:]) % 250 + 2}"


def qiact(m: Modem, cmd: Command) -> Reply:
    mq = q(m)
    if cmd.kind == "read":
        return Reply([f'+QIACT: {cid},1,1,"{ip_address(m)}"' for cid in sorted(mq.active)])
    if cmd.kind == "test":
        return Reply(["+QIACT: (1-15)"])
    cid = _int(_args(cmd, 1, 1)[0], 1, 15)
    if not m.net.registered or cid not in mq.contexts:
        raise CmdError(None)  # the module answers a bare ERROR when activation fails
    mq.active.add(cid)
    mq.deactivated.discard(cid)
    return Reply()


def qideact(m: Modem, cmd: Command) -> Reply:
    mq = q(m)
    cid = _int(_args(cmd, 1, 1)[0], 1, 15)
    if cid in mq.active:
        mq.active.discard(cid)
        mq.contexts_lost()
    return Reply()


def qsclk(m: Modem, cmd: Command) -> Reply:
    mq = q(m)
    if cmd.kind == "read":
        return Reply([f"+QSCLK: {mq.qsclk}"])
    if cmd.kind == "test":
        return Reply(["+QSCLK: (0-2)"])
    mq.qsclk = _int(_args(cmd, 1, 1)[0], 0, 2)
    return Reply()


def _commands() -> dict[str, Handler]:
    table: dict[str, Handler] = {
        "": at,
        "E": echo,
        "E0": echo,
        "E1": echo,
        "I": ati,
        "+CGMR": cgmr,
        "+CMEE": cmee,
        "+CPIN": cpin,
        "+IPR": ipr,
        "+CFUN": cfun,
        "+CEREG": _reg("CEREG"),
        "+CGREG": _reg("CGREG"),
        "+CREG": _reg("CREG"),
        "+CSQ": csq,
        "+CGSN": cgsn,
        "+GSN": cgsn,
        "+CIMI": cimi,
        "+QCCID": qccid,
        "+CGATT": cgatt,
        "+COPS": cops,
        "+QICSGP": qicsgp,
        "+QIACT": qiact,
        "+QIDEACT": qideact,
        "+QSCLK": qsclk,
    }
    table.update(qsock.COMMANDS)
    table.update(qmqtt.COMMANDS)
    return table


COMMANDS: dict[str, Handler] = _commands()

#: the session tables a Quectel modem owns, made when it is (QuectelModem ``sessions``)
SESSIONS = (qsock.QSocketTable, qmqtt.MqttClients)
