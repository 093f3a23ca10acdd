"""The Quectel BC660K-GL persona: a QI-stack NB-IoT module (3GPP Rel-14) that differs from BC26.

What this adds to :class:`~host_tools.emulator.quectel.QuectelModem`, after the BC660K-GL AT
Commands Manual V1.0 as the firmware driver (``nbkit/modem/bc660k.py``) cites it, R4sp1's Arduino
driver and Renode's ``Quectel_BC660K`` model:

* sockets on context 0, the default bearer of the attach (``Persona.contexts``); the APN of the
  default PDN by ``AT+QCGDEFCONT="IP","<apn>"``; ``AT+CGMR`` answers ``Revision: BC660K...``;
* ``AT+CPSMS`` / ``AT+CSCON`` in the Quectel layout (space after the colon), the granted timers
  in ``+CEREG`` n=4 (``+CEREG: 4,1,"tac","ci",9,,,"<T3324>","<T3412>"``, as Renode builds it);
* ``AT+QNBIOTEVENT=1,1``: ``+QNBIOTEVENT: "ENTER PSM"`` / ``"EXIT PSM"`` as the network moves;
* ``AT+QSCLK=1`` and PSM: the module is in deep sleep (BC660K-GL Hardware Design §3.4.2: woken
  by an AT command on the main UART, "this AT command will be lost"): the waking command line is
  dropped unanswered, then ``+QATWAKEUP`` when ``AT+QATWAKEUP=1`` asked for it (the URC as the
  XinYi BC25/BC260Y-class firmware sources print it);
* ``AT+QCFG="dsevent",1``: ``+QNBIOTEVENT: "ENTER DEEPSLEEP"`` / ``"EXIT DEEPSLEEP"`` around
  the deep sleep (the event text as the XinYi-based firmware sources print it);
* ``AT+QRST=1``: ``OK``, then the reset and ``RDY``;
* ``AT+QIRD``: the data quoted after the header, on its own line (``AT+QICFG="viewmode",0``, the
  default) or after a comma (``viewmode`` 1), as text or hex (``AT+QICFG="dataformat",<s>,<r>``),
  the layout of Renode's ``Quectel_BC660K`` on its ``QuectelModem`` base.

A real module's answers (``markbac/quectel-bc660k-dashboard``, ``tests/transcripts/
bc660k_real_2026-10-03.jsonl``) confirm the identity lines, ``+CPSMS: 1,,,"...","..."``,
``+CEREG: 4,5,"tac","ci",9,,,"<T3324>","<T3412>"``, the default PDN on context 0
(``+CGDCONT: 0,"IP",...``), ``AT+QNBIOTEVENT=1,1`` and ``AT+QCFG="dsevent",1`` answering OK, and a
first ``AT`` after a sleep that gets no ``OK``.
"""

from __future__ import annotations

from typing import Any

from host_tools.emulator import commands as huawei
from host_tools.emulator import qcommands
from host_tools.emulator.atparse import Command
from host_tools.emulator.modem import AT_CAUSE, CmdError, Handler, Modem, Reply
from host_tools.emulator.qsock import QSocketTable, sock_of
from host_tools.emulator.quectel import BAD_PARAMS, QuectelModem, _args, _int

WAKEUP = "+QATWAKEUP"


class Bc660kModem(QuectelModem):
    """A BC660K-GL: QuectelModem plus PSM events, deep sleep and its own PDN commands (built by
    ``server._build_modem`` with this module's :data:`COMMANDS`, as the persona names it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stats["wakeups"] = 0

    def _reset_volatile(self) -> None:
        super()._reset_volatile()
        self.nbiotevent = 0
        self.dsevent = 0
        self.dataformat = (0, 0)  # (send, receive): 1 = hex
        self.viewmode = 0  # 0: data on the line after +QIRD, 1: after a comma
        self.wakeup_urc = 0
        self.deep_sleep = False

    def feed(self, data: bytes) -> None:
        if self.deep_sleep and data and not self.booting:
            # the falling edge on MAIN_RXD wakes the module; the command itself is lost
            self.deep_sleep = False
            self.stats["wakeups"] += 1
            self.stats["ignored_bytes"] += len(data)
            if self.dsevent:
                self.urc('+QNBIOTEVENT: "EXIT DEEPSLEEP"')
            if self.wakeup_urc:
                self.urc(WAKEUP)
            return
        super().feed(data)

    def _on_network(self, kind: str, value: int) -> None:
        if kind == "npsmr":
            if self.nbiotevent:
                self.urc('+QNBIOTEVENT: "ENTER PSM"' if value else '+QNBIOTEVENT: "EXIT PSM"')
            self.deep_sleep = bool(value) and self.qsclk == 1
            if self.deep_sleep and self.dsevent:
                self.urc('+QNBIOTEVENT: "ENTER DEEPSLEEP"')
        elif kind == "timers" and self.cereg_n >= 4:
            self.urc(self.reg_text("CEREG", self.cereg_n, read=False))
        else:
            super()._on_network(kind, value)


def _bc(m: Modem) -> Bc660kModem:
    assert isinstance(m, Bc660kModem)
    return m


def _spaced(reply: Reply) -> Reply:
    """A Huawei-layout reply (``+CPSMS:1,...``) in the Quectel layout (``+CPSMS: 1,...``)."""
    reply.lines = [line.replace(":", ": ", 1) for line in reply.lines]
    return reply


def cpsms(m: Modem, cmd: Command) -> Reply:
    if cmd.kind == "read":  # the timers quoted, as they are written
        net = m.net
        return Reply([f'+CPSMS: {net.psm_mode},,,"{net.req_tau}","{net.req_active}"'])
    return _spaced(huawei.cpsms(m, cmd))


def cscon(m: Modem, cmd: Command) -> Reply:
    return _spaced(huawei.cscon(m, cmd))


def qcgdefcont(m: Modem, cmd: Command) -> Reply:
    mq = _bc(m)
    cid = m.persona.contexts[0]
    if cmd.kind == "read":
        apn, user, pwd, auth = mq.contexts.get(cid, ("", "", "", 0))
        return Reply([f'+QCGDEFCONT: "IP","{apn}"'])
    args = _args(cmd, 2, 5)
    if args[0].upper() not in ("IP", "IPV6", "IPV4V6", "NON-IP"):
        raise CmdError(BAD_PARAMS)
    user = args[2] if len(args) > 2 else ""
    pwd = args[3] if len(args) > 3 else ""
    auth = _int(args[4], 0, 2) if len(args) > 4 else 0
    mq.contexts[cid] = (args[1], user, pwd, auth)
    return Reply()


def qnbiotevent(m: Modem, cmd: Command) -> Reply:
    mq = _bc(m)
    if cmd.kind == "read":
        return Reply([f"+QNBIOTEVENT: {mq.nbiotevent},1"])
    if cmd.kind == "test":
        return Reply(["+QNBIOTEVENT: (0,1),(1)"])
    args = _args(cmd, 1, 2)
    mq.nbiotevent = _int(args[0], 0, 1)
    if len(args) > 1:
        _int(args[1], 1, 1)
    return Reply()


def qatwakeup(m: Modem, cmd: Command) -> Reply:
    mq = _bc(m)
    if cmd.kind == "read":
        return Reply([f"+QATWAKEUP: {mq.wakeup_urc}"])
    if cmd.kind == "test":
        return Reply(["+QATWAKEUP: (0,1)"])
    mq.wakeup_urc = _int(_args(cmd, 1, 1)[0], 0, 1)
    return Reply()


def cgsn(m: Modem, cmd: Command) -> Reply:
    """``AT+CGSN=1`` -> ``+CGSN: <imei>`` (as a real module answers); ``AT+CGSN`` the bare IMEI."""
    if cmd.kind == "set":
        _int(_args(cmd, 1, 1)[0], 0, 3)
        return Reply([f"+CGSN: {m.opts.imei}"])
    return Reply([m.opts.imei])


def qcfg(m: Modem, cmd: Command) -> Reply:
    """``AT+QCFG="dsevent"[,<0|1>]``; other settings answer ERROR (not emulated)."""
    mq = _bc(m)
    args = _args(cmd, 1, 2)
    if args[0].lower() != "dsevent":
        raise CmdError(None)
    if len(args) == 1:
        return Reply([f'+QCFG: "dsevent",{mq.dsevent}'])
    mq.dsevent = _int(args[1], 0, 1)
    return Reply()


def qicfg(m: Modem, cmd: Command) -> Reply:
    """``AT+QICFG="dataformat",<send>,<recv>`` / ``"viewmode",<n>`` (and their read forms)."""
    mq = _bc(m)
    args = _args(cmd, 1, 3)
    name = args[0].lower()
    if name == "dataformat":
        if len(args) == 1:
            return Reply([f'+QICFG: "dataformat",{mq.dataformat[0]},{mq.dataformat[1]}'])
        if len(args) != 3:
            raise CmdError(BAD_PARAMS)
        mq.dataformat = (_int(args[1], 0, 1), _int(args[2], 0, 1))
    elif name == "viewmode":
        if len(args) == 1:
            return Reply([f'+QICFG: "viewmode",{mq.viewmode}'])
        mq.viewmode = _int(args[1], 0, 1)
    else:
        raise CmdError(None)
    return Reply()


def qird(m: Modem, cmd: Command) -> Reply:
    """``+QIRD: <n>`` then ``"<data>"`` (text or hex); ``AT+QIRD=<id>,0``: the counters."""
    mq = _bc(m)
    args = _args(cmd, 1, 2)
    qs = sock_of(m, args[0])
    if qs.mode != 0:
        raise CmdError(None)  # direct push: nothing to read
    limit = _int(args[1], 0, m.persona.max_payload) if len(args) == 2 else m.persona.max_payload
    if limit == 0:
        return Reply([f"+QIRD: {qs.received},{qs.read},{qs.received - qs.read}"])
    data, _ = mq.session(QSocketTable).take(qs, limit)
    if not data:
        return Reply(["+QIRD: 0"])
    shown = data.hex().upper() if mq.dataformat[1] else data.decode("latin-1")
    sep = "," if mq.viewmode else "\r\n"
    return Reply([f'+QIRD: {len(data)}{sep}"{shown}"'])


def qrst(m: Modem, cmd: Command) -> Reply:
    _int(_args(cmd, 1, 1)[0], 1, 1)
    # the reset once the OK has left the UART (its response time and bit time included)
    m.reactor.call_later(0.0, lambda: _reset_after_ok(m))
    return Reply()


def _reset_after_ok(m: Modem) -> None:
    m.reactor.call_at(m.output.busy_until, lambda: m.reboot(AT_CAUSE))


#: the BC660K-GL firmware's command table: the Quectel one with what differs
COMMANDS: dict[str, Handler] = {
    **qcommands.COMMANDS,
    "+CGSN": cgsn,
    "+CPSMS": cpsms,
    "+CSCON": cscon,
    "+QCGDEFCONT": qcgdefcont,
    "+QNBIOTEVENT": qnbiotevent,
    "+QATWAKEUP": qatwakeup,
    "+QCFG": qcfg,
    "+QICFG": qicfg,
    "+QIRD": qird,
    "+QRST": qrst,
}
