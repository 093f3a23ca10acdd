# The link (and modem profile) chosen by configuration (MIT licence):
#   transport  udp  -> app.link.UdpLink       Huawei family (BC95/BC28), AT+NSOST datagrams
#                      app.link_tcp.QiUdpLink  QI family (EC200/EC600/BC26/BC660K), QIOPEN "UDP"
#              tcp  -> app.link_tcp.TcpLink    QI family, QIOPEN TCP, 2-byte length prefix
#              mqtt -> app.link_mqtt.MqttLink  any module with AT+QMT (EC200, BC26, BC28-R2)
#              coap -> app.link_cdp.CdpLink    BC95/BC28, operator platform via NCDP/NMGS
# Which model is in which family and carries which transport: nbkit.modem.models (the registry).
# server_host / server_port are the collector (udp, tcp), the broker (mqtt) or the platform
# (coap: an IP address, port 5683 usually). The app only calls up / send / receive / down.
from nbkit.app.link import UdpLink
from nbkit.modem import models

TRANSPORTS = ("udp", "tcp", "mqtt", "coap")


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
    if transport == "udp":
        if models.family(model) == models.QI:
            from nbkit.app.link_tcp import QiUdpLink

            return QiUdpLink(modem, host, port)
        return UdpLink(modem, host, port)
    if transport == "tcp":
        from nbkit.app.link_tcp import TcpLink

        return TcpLink(modem, host, port)
    if transport == "mqtt":
        from nbkit.app.link_mqtt import MqttLink
        from nbkit.modem.mqtt import MqttClient

        client = MqttClient(
            modem.engine,
            modem.clock,
            host,
            port,
            "nbkit-%d" % cfg["device_id"],
            user=cfg.get("mqtt_user", ""),
            password=cfg.get("mqtt_password", ""),
            keepalive_s=cfg.get("mqtt_keepalive_s", 120),
        )
        return MqttLink(modem, client, cfg["device_id"])
    if transport == "coap":
        from nbkit.app.link_cdp import CdpLink
        from nbkit.modem.bc95_cdp import Cdp

        return CdpLink(modem, Cdp(modem, host, port))
    raise ValueError("transport must be one of %s" % ", ".join(TRANSPORTS))
