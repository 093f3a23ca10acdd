# The link (and modem profile) chosen by configuration (MIT licence):
#   transport  udp  -> app.link.UdpLink       Huawei family (BC95/BC28), AT+NSOST datagrams
#                      app.link_tcp.QiUdpLink  QI family (EC200/EC600/BC26/BC660K), QIOPEN "UDP"
#              tcp  -> app.link_tcp.TcpLink    QI family, QIOPEN TCP, 2-byte length prefix
#              mqtt -> app.link_mqtt.MqttLink  any module with AT+QMT (EC200, BC26, BC28-R2)
#              coap -> app.link_cdp.CdpLink    BC95/BC28, operator platform via NCDP/NMGS
# Which model is in which family and carries which transport: nbkit.modem.models (the registry).
# server_host / server_port are the collector (udp, tcp), the broker (mqtt) or the platform
# (coap: an IP address, port 5683 usually). The app only calls up / send / receive / down.
# Each link's module builds its own (make(cfg, modem, host, port)): a wake interns the names of
# the link it uses only.
import sys

from micropython import const

from nbkit.app.link import UdpLink
from nbkit.modem import models

TRANSPORTS = ("udp", "tcp", "mqtt", "coap")
# transport -> the module whose make(cfg, modem, host, port) builds its link (udp there: a QI
# module's QIOPEN "UDP"; the Huawei family's AT+NSOST link is UdpLink, built here)
_LINK_MODULES = const(
    (
        ("udp", "nbkit.app.link_tcp"),
        ("tcp", "nbkit.app.link_tcp"),
        ("mqtt", "nbkit.app.link_mqtt"),
        ("coap", "nbkit.app.link_cdp"),
    )
)


def make_modem(model, engine, clock, cfg, *, dtr=None, psm=None):
    # The driver for a board's modem model (nbkit.modem.models). psm: (tau_s, active_s) requested
    # before attach by the NB-IoT drivers (Cat1 requests none); dtr: the Pin on the module's
    # DTR / wake-up line (sleep control), if wired.
    cls = models.driver(model)
    return cls(engine, clock, apn=cfg.get("apn", ""), model=model, psm=psm, dtr=dtr)


def make_link(cfg, modem):
    # -> the link for cfg["transport"] (default udp) over this modem profile.
    transport = cfg.get("transport", "udp")
    host, port = cfg["server_host"], cfg["server_port"]
    model = getattr(modem, "model", "")
    if transport in TRANSPORTS and transport not in models.transports(model):
        raise ValueError(
            "transport %s needs a modem that carries it, not %r (%s only)"
            % (transport, model, "/".join(models.transports(model)))
        )
    if transport == "udp" and models.family(model) != models.QI:
        return UdpLink(modem, host, port)
    if transport not in TRANSPORTS:
        raise ValueError("transport must be one of %s" % ", ".join(TRANSPORTS))
    name = dict(_LINK_MODULES)[transport]
    __import__(name)
    return sys.modules[name].make(cfg, modem, host, port)
