# The link (and modem profile) chosen by configuration (MIT licence):
#   transport  udp  -> app.link.UdpLink       BC95/BC28, AT+NSOST datagrams (server_host = IP)
#                      app.link_tcp.QiUdpLink  EC200/EC600/BC26, QIOPEN "UDP" + QISEND
#              tcp  -> app.link_tcp.TcpLink    EC200/EC600/BC26, QIOPEN TCP, 2-byte length prefix
#              mqtt -> app.link_mqtt.MqttLink  any module with AT+QMT (EC200, BC26, BC28-R2)
#              coap -> app.link_cdp.CdpLink    BC95/BC28, operator platform via NCDP/NMGS
# server_host / server_port are the collector (udp, tcp), the broker (mqtt) or the platform
# (coap: an IP address, port 5683 usually). The app only calls up / send / receive / down.
from nbkit.app.link import UdpLink

TRANSPORTS = ("udp", "tcp", "mqtt", "coap")
QI_MODELS = ("ec200", "ec600", "bc26")
HUAWEI_MODELS = ("bc95", "bc28")


def make_modem(model, engine, clock, cfg, *, dtr=None, psm=None):
    # The modem profile for a board's modem model ("bc95", "bc28", "ec200", "ec600", "bc26").
    # psm: (tau_s, active_s) requested before attach on BC95/BC28 (Cat1 requests none);
    # dtr: the Pin on the Cat1 module's DTR (sleep control), if wired.
    if model in HUAWEI_MODELS:
        from nbkit.modem.bc95 import Bc95

        return Bc95(engine, clock, apn=cfg.get("apn", ""), model=model, psm=psm)
    if model in QI_MODELS:
        from nbkit.modem.ec200 import Ec200

        return Ec200(engine, clock, apn=cfg.get("apn", ""), model=model, dtr=dtr)
    raise ValueError("unknown modem model %r" % (model,))


def make_link(cfg, modem):
    # -> the link for cfg["transport"] (default udp) over this modem profile.
    transport = cfg.get("transport", "udp")
    host, port = cfg["server_host"], cfg["server_port"]
    model = getattr(modem, "model", "")
    if transport == "udp":
        if model in QI_MODELS:
            from nbkit.app.link_tcp import QiUdpLink

            return QiUdpLink(modem, host, port)
        return UdpLink(modem, host, port)
    if transport == "tcp":
        _needs(model, QI_MODELS, transport)
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
        _needs(model, HUAWEI_MODELS, transport)
        from nbkit.app.link_cdp import CdpLink
        from nbkit.modem.bc95_cdp import Cdp

        return CdpLink(modem, Cdp(modem, host, port))
    raise ValueError("transport must be one of %s" % ", ".join(TRANSPORTS))


def _needs(model, models, transport):
    if model not in models:
        raise ValueError(
            "transport %s needs a %s modem, not %r" % (transport, "/".join(models), model)
        )
