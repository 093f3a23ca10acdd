"""The operator IoT platform (OceanConnect-style CDP server) as a real CoAP server (aiocoap).

What a BC95/BC28 module talks to after ``AT+NCDP=<ip>,<port>`` (at-modems.md §1.6), reduced to
what nbkit needs; the emulator's CDP commands (:mod:`host_tools.emulator.cdp`) are its client:

* ``POST /rd?ep=<IMEI>`` registers the device (``2.01 Created``); the platform remembers the
  address it came from, for downlinks. Until then the module answers ``AT+NMGS`` with
  ``+CME ERROR: 513``.
* ``POST /t/d?ep=<IMEI>`` is one uplink (the ``AT+NMGS`` payload). The platform forwards it to
  ``on_uplink(payload, peer)`` (the collector) and answers ``2.04 Changed`` carrying what that
  returns (the ack frame, possibly empty): the module reports it as downlink ``+NNMI``.
* :meth:`CoapPlatform.push` sends a downlink on its own: ``POST /t/d`` to the registered device.

A real platform decodes payloads with a "profile" and relays them by HTTP; the stand-in keeps
the bytes as they are, which is what the nbkit frame format needs.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import aiocoap  # type: ignore[import-untyped]
from aiocoap import resource

from host_tools.collector.intake import Ready, SharedCollector

Uplink = Callable[[bytes, str], "bytes | None"]

#: registered devices remembered (a real deployment's fleet fits; a forged flood does not grow
#: memory past it) and the longest endpoint name taken (an IMEI is 15 digits)
MAX_DEVICES = 4096
MAX_ENDPOINT = 64


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _endpoint(request: aiocoap.Message) -> str:
    for item in request.opt.uri_query:
        if item.startswith("ep="):
            return str(item[3:])
    return ""


class _Register(resource.Resource):
    def __init__(self, platform: CoapPlatform) -> None:
        super().__init__()
        self.platform = platform

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        ep = _endpoint(request)
        if not ep or len(ep) > MAX_ENDPOINT:
            return aiocoap.Message(code=aiocoap.BAD_REQUEST, payload=b"ep= missing or too long")
        self.platform.register(ep, request.remote.hostinfo)
        return aiocoap.Message(code=aiocoap.CREATED, location_path=("rd", ep))


class _Data(resource.Resource):
    def __init__(self, platform: CoapPlatform) -> None:
        super().__init__()
        self.platform = platform

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        ep = _endpoint(request)
        if ep not in self.platform.devices:
            return aiocoap.Message(code=aiocoap.FORBIDDEN, payload=b"not registered")
        self.platform.uplinks += 1
        reply = self.platform.on_uplink(bytes(request.payload), f"coap:{ep}")
        return aiocoap.Message(code=aiocoap.CHANGED, payload=reply or b"")


class CoapPlatform:
    """The platform stand-in; ``start()``/``stop()`` run on the caller's asyncio loop."""

    def __init__(self, on_uplink: Uplink, host: str = "127.0.0.1", port: int = 0) -> None:
        self.on_uplink = on_uplink
        self.host = host
        self.port = port or free_udp_port(host)
        # endpoint name -> "ip:port" it registered from; at most MAX_DEVICES, least recently
        # registered dropped first (registration is unauthenticated: anyone can forge one)
        self.devices: OrderedDict[str, str] = OrderedDict()
        self.registrations = 0
        self.evicted = 0
        self.uplinks = 0
        self.context: aiocoap.Context | None = None

    def register(self, ep: str, hostinfo: str) -> None:
        """Remember where ``ep`` is; the table stays within MAX_DEVICES entries."""
        self.devices.pop(ep, None)
        self.devices[ep] = hostinfo
        self.registrations += 1
        while len(self.devices) > MAX_DEVICES:
            self.devices.popitem(last=False)
            self.evicted += 1

    async def start(self) -> None:
        site = resource.Site()
        site.add_resource(["rd"], _Register(self))
        site.add_resource(["t", "d"], _Data(self))
        # CoAP over UDP only (what the module speaks): aiocoap's default TCP, TLS and WebSocket
        # servers would also bind this port number, free for UDP but maybe not for TCP
        self.context = await aiocoap.Context.create_server_context(
            site, bind=(self.host, self.port), transports=["udp6"]
        )

    async def push(self, ep: str, payload: bytes) -> bool:
        """Send a downlink to a registered device; True when it answered 2.xx."""
        if self.context is None or ep not in self.devices:
            return False
        request = aiocoap.Message(
            code=aiocoap.POST, payload=payload, uri=f"coap://{self.devices[ep]}/t/d"
        )
        try:
            response = await asyncio.wait_for(self.context.request(request).response, 5.0)
        except (aiocoap.error.Error, TimeoutError, asyncio.TimeoutError):
            return False
        return bool(response.code.is_successful())

    async def stop(self) -> None:
        if self.context is not None:
            await self.context.shutdown()
            self.context = None


class PlatformThread:
    """A :class:`CoapPlatform` on its own asyncio loop thread (tests and the CLI)."""

    def __init__(self, on_uplink: Uplink, host: str = "127.0.0.1", port: int = 0) -> None:
        self.platform = CoapPlatform(on_uplink, host, port)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="nbkit-coap", daemon=True
        )

    def __enter__(self) -> PlatformThread:
        self.thread.start()
        try:
            self.call(self.platform.start())
        except Exception:
            self.__exit__()
            raise
        return self

    def call(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def push(self, ep: str, payload: bytes) -> bool:
        return bool(self.call(self.platform.push(ep, payload)))

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self.platform.stop(), 5.0)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5.0)
            self.loop.close()


def serve_coap(
    shared: SharedCollector,
    host: str,
    port: int,
    stop: threading.Event,
    ready: Ready | None = None,
) -> None:
    """Run the platform stand-in feeding the collector until ``stop``."""

    def on_uplink(data: bytes, peer: str) -> bytes | None:
        return shared.handle(data, peer)[0]

    with PlatformThread(on_uplink, host, port) as platform:
        if ready:
            ready((platform.platform.host, platform.platform.port))
        while not stop.wait(0.1):
            if not platform.thread.is_alive():
                raise OSError("the CoAP platform's event loop ended")
