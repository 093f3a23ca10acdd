"""Huawei CDP commands (BC95/BC28 personas) bridged to a REAL CoAP platform (at-modems.md §1.6).

* ``AT+NCDP=<ip>[,<port>]`` (port 5683 by default; kept across reboots like the module's NV)
  -> ``OK``; ``AT+NCDP?`` -> ``+NCDP:<ip>,<port>``.
* Registration: once a CDP server is set and the UE is registered, the module registers with
  the platform (CoAP ``POST /rd?ep=<IMEI>``, see :mod:`host_tools.collector.coap`); it starts on
  ``AT+NCDP=``, ``AT+NMSTATUS?`` and ``AT+NMGS``. ``AT+NMSTATUS?`` -> ``+NMSTATUS:<s>`` with
  ``UNINITIALISED`` (no server), ``REGISTERING``, ``MO_DATA_ENABLED``, ``TIMEOUT_AND_RETRYING``
  (no answer / refused; the next trigger retries).
* ``AT+NMGS=<len>,<hex>`` -> ``+CME ERROR: 513`` until ``MO_DATA_ENABLED``; then ``OK``, the
  payload goes out on the air (network model) and as CoAP ``POST /t/d?ep=<IMEI>``; when the
  platform answers: ``+NSMI:SENT`` (``AT+NSMI=1``), ``+NSMI:DISCARDED`` when it does not.
* Downlink (the platform's answer payload, or its own ``POST /t/d`` to the module):
  ``AT+NNMI=1`` -> ``+NNMI:<len>,<HEX>``; ``=2`` -> bare ``+NNMI`` and buffered; ``=0``
  buffered silently. ``AT+NMGR`` -> ``<len>,<HEX>`` (oldest) or just ``OK``.
* ``AT+NQMGS`` -> ``PENDING=<n>,SENT=<n>,ERROR=<n>``; ``AT+NQMGR`` ->
  ``BUFFERED=<n>,RECEIVED=<n>,DROPPED=<n>``.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from typing import Any

from host_tools.emulator.argcheck import BAD_PARAMS, _args, _int, _only
from host_tools.emulator.atparse import Command
from host_tools.emulator.modem import CmdError, Handler, Modem, Reply
from host_tools.emulator.network import Uplink

TUP_NOT_REGISTERED = 513
MAX_BUFFERED = 8
MAX_PAYLOAD = 512
COAP_TIMEOUT_S = 5.0


class CdpClient:
    """One module's platform session: its CoAP context lives on the bridge's asyncio loop."""

    def __init__(self, modem: Modem) -> None:
        self.m = modem
        from host_tools.emulator.bridge import ThreadBridge  # asyncio: with the first session

        self.bridge = ThreadBridge(modem.reactor)
        self.server: tuple[str, int] | None = None
        self.context: Any = None
        self.reset()
        self.sent = self.errors = self.received = self.dropped = 0

    def reset(self) -> None:
        """Reboot: volatile settings back to defaults, the registration is gone."""
        self.nsmi = 0
        self.nnmi = 0
        self.status = "UNINITIALISED" if self.server is None else "INIT"
        self.pending = 0
        self.rx: deque[bytes] = deque()
        self.epoch = getattr(self, "epoch", 0) + 1  # answers from before a reboot are void

    # -- registration -------------------------------------------------------------------------

    def kick(self) -> None:
        """Register with the platform if that is possible and not done or under way."""
        if self.server is None or not self.m.net.registered:
            return
        if self.status in ("REGISTERING", "MO_DATA_ENABLED"):
            return
        self.status = "REGISTERING"
        epoch = self.epoch
        self._ask()
        self.bridge.run_async(self._register(), lambda ok, e: self._registered(epoch, ok, e))

    # Under a time master every request to the platform is in flight on this module's own
    # channel (Reactor.asked) until its answer (or its failure) is back in the reactor: time
    # never moves past a platform's answer on its way (the platform's side needs no counting).

    def _ask(self) -> None:
        self.m.reactor.asked("coapq")

    def _answered(self) -> None:
        self.m.reactor.answered("coapq")

    async def _ctx(self) -> Any:
        if self.context is None:
            import aiocoap  # type: ignore[import-untyped]
            from aiocoap import resource

            site = resource.Site()
            site.add_resource(["t", "d"], _downlink_resource(self))
            self.context = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", 0))
        return self.context

    async def _post(self, path: str, payload: bytes) -> tuple[bool, bytes]:
        assert self.server is not None
        ctx = await self._ctx()
        host, port = self.server
        uri = f"coap://{host}:{port}/{path}?ep={self.m.opts.imei}"
        import aiocoap

        request = aiocoap.Message(code=aiocoap.POST, payload=payload, uri=uri)
        response = await _asyncio().wait_for(ctx.request(request).response, COAP_TIMEOUT_S)
        return bool(response.code.is_successful()), bytes(response.payload)

    async def _register(self) -> bool:
        ok, _ = await self._post("rd", b"</19/0/0>,</19/1/0>")
        return ok

    def _registered(self, epoch: int, ok: Any, error: BaseException | None) -> None:
        self._answered()
        if epoch != self.epoch or self.status != "REGISTERING":
            return  # rebooted meanwhile
        self.status = "MO_DATA_ENABLED" if ok and error is None else "TIMEOUT_AND_RETRYING"

    # -- data ---------------------------------------------------------------------------------

    def send(self, payload: bytes) -> int | None:
        """Queue an uplink; a CME error code when it cannot."""
        error = self.m.net.uplink(Uplink(len(payload), 0, lambda: self._air_done(payload)))
        if error is None:
            self.pending += 1
        return error

    def _air_done(self, payload: bytes) -> None:
        epoch = self.epoch
        self._ask()
        self.bridge.run_async(
            self._post("t/d", payload), lambda r, e: self._delivered(epoch, r, e)
        )

    def _delivered(self, epoch: int, result: Any, error: BaseException | None) -> None:
        self._answered()
        if epoch != self.epoch:
            return
        self.pending = max(0, self.pending - 1)
        if error is not None or not result[0]:
            self.errors += 1
            if self.nsmi:
                self.m.urc("+NSMI:DISCARDED")
            return
        self.sent += 1
        if self.nsmi:
            self.m.urc("+NSMI:SENT")
        if result[1]:
            self.downlink(result[1])

    def downlink(self, data: bytes) -> None:
        """Data from the platform reaches the module."""
        self.received += 1
        if self.nnmi == 1:
            self.m.urc(f"+NNMI:{len(data)},{data.hex().upper()}")
            return
        if len(self.rx) >= MAX_BUFFERED:
            self.dropped += 1
            return
        self.rx.append(data)
        if self.nnmi == 2:
            self.m.urc("+NNMI")

    def close(self) -> None:
        if self.context is not None:
            future = _asyncio().run_coroutine_threadsafe(
                self.context.shutdown(), self.bridge.loop()
            )
            try:
                future.result(2.0)
            except Exception:  # the loop is going away anyway
                pass
            self.context = None
        self.bridge.close()


def _asyncio() -> Any:
    import asyncio

    return asyncio


def _downlink_resource(cdp: CdpClient) -> Any:
    """The module's ``/t/d`` resource: the platform's own downlink requests land here.
    (aiocoap loads with the first CoAP session: an emulator that never talks CoAP, as for
    every UDP, TCP and MQTT link, starts without it, 26 ms sooner.)"""
    import aiocoap
    from aiocoap import resource

    class _Downlink(resource.Resource):
        async def render_post(self, request: Any) -> Any:
            data = bytes(request.payload)
            cdp.bridge.post(lambda: cdp.downlink(data))
            return aiocoap.Message(code=aiocoap.CHANGED)

    return _Downlink()


# -- handlers ---------------------------------------------------------------------------------


def client(m: Modem) -> CdpClient:
    if m.cdp is None:
        m.cdp = CdpClient(m)
    assert isinstance(m.cdp, CdpClient)
    return m.cdp


def ncdp(m: Modem, cmd: Command) -> Reply:
    c = client(m)
    if cmd.kind == "read":
        return Reply([f"+NCDP:{c.server[0]},{c.server[1]}"] if c.server else [])
    _only(cmd, "set")
    args = _args(cmd, 1, 2)
    try:
        ip = str(ipaddress.IPv4Address(args[0]))
    except ValueError:
        raise CmdError(BAD_PARAMS) from None
    port = _int(args[1], 1, 65535) if len(args) == 2 and args[1] else 5683
    c.server = (ip, port)
    c.status = "INIT"
    c.kick()
    return Reply()


def nmstatus(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "read")
    c = client(m)
    c.kick()
    return Reply([f"+NMSTATUS:{c.status}"])


def nsmi(m: Modem, cmd: Command) -> Reply:
    c = client(m)
    if cmd.kind == "read":
        return Reply([f"+NSMI:{c.nsmi}"])
    _only(cmd, "set")
    c.nsmi = _int(_args(cmd, 1, 1)[0], 0, 1)
    return Reply()


def nnmi(m: Modem, cmd: Command) -> Reply:
    c = client(m)
    if cmd.kind == "read":
        return Reply([f"+NNMI:{c.nnmi}"])
    _only(cmd, "set")
    c.nnmi = _int(_args(cmd, 1, 1)[0], 0, 2)
    return Reply()


def nmgs(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "set")
    args = _args(cmd, 2, 3)
    length = _int(args[0], 1, MAX_PAYLOAD)
    try:
        data = bytes.fromhex(args[1])
    except ValueError:
        raise CmdError(BAD_PARAMS) from None
    if len(data) != length:
        raise CmdError(BAD_PARAMS)
    c = client(m)
    if c.status != "MO_DATA_ENABLED":
        c.kick()
        raise CmdError(TUP_NOT_REGISTERED)
    error = c.send(data)
    if error is not None:
        raise CmdError(error)
    return Reply()


def nmgr(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "exec")
    c = client(m)
    if not c.rx:
        return Reply()
    data = c.rx.popleft()
    return Reply([f"{len(data)},{data.hex().upper()}"])


def nqmgs(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "exec")
    c = client(m)
    return Reply([f"PENDING={c.pending},SENT={c.sent},ERROR={c.errors}"])


def nqmgr(m: Modem, cmd: Command) -> Reply:
    _only(cmd, "exec")
    c = client(m)
    return Reply([f"BUFFERED={len(c.rx)},RECEIVED={c.received},DROPPED={c.dropped}"])


COMMANDS: dict[str, Handler] = {
    "+NCDP": ncdp,
    "+NMSTATUS": nmstatus,
    "+NSMI": nsmi,
    "+NNMI": nnmi,
    "+NMGS": nmgs,
    "+NMGR": nmgr,
    "+NQMGS": nqmgs,
    "+NQMGR": nqmgr,
}
