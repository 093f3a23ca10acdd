# Frames as MQTT messages through the modem's AT MQTT client (nbkit.modem.mqtt): the four calls
# of nbkit.app.link (MIT licence).
#   uplink:   publish, QoS 1, to  nbkit/<device_id>/up    (one frame per message)
#   downlink: subscribed, QoS 1,  nbkit/<device_id>/ack   (the collector's ack frames)
# Messages carry the frame bytes as they are (the modem's hex data format is a UART matter,
# nbkit.lte.qmt). A publish without PUBACK (broker gone, +QMTSTAT) is retried once after a
# reconnect; a modem reset (RDY) under the publish or in the ack wait brings the modem and the
# session up again and publishes the frame once more (link.resends). Past that send() raises
# LinkError: the records stay in the app's durable queue, which drops them only on the
# collector's authenticated ack, so nothing is lost and a duplicate publish is only
# deduplicated by the collector.
from micropython import const

from nbkit.app import bearer
from nbkit.app.link import Link, LinkError

_SLICE_MS = const(1000)  # the ack wait looks for a modem reset (RDY) at least this often


def topics(device_id):
    # -> (uplink topic, ack topic)
    return ("nbkit/%d/up" % device_id, "nbkit/%d/ack" % device_id)


class MqttLink(Link):
    def __init__(self, modem, client, device_id, attach_timeout_ms=120000, *, sleep_after=True):
        super().__init__(modem, attach_timeout_ms)
        self.client = client
        self.up_topic, self.ack_topic = topics(device_id)
        self.sleep_after = sleep_after
        client.subscribe_on_connect(self.ack_topic)
        self.republished = 0

    def up(self):
        self.used = True
        if not bearer.up(self.modem, self.attach_timeout_ms):
            return False
        if self.client.ensure():
            return True
        self.modem.last_error = "MQTT: %s" % self.client.last_error
        return False

    def send(self, data, last=True, expect_reply=True):
        # A modem reset (RDY) under the publish: up again (re-init, reconnect) and once more.
        self._send_checked(data, 0, expect_reply)

    def _send_raw(self, data, flags):
        client = self.client
        boots = self._boots()
        if client.publish(self.up_topic, data, 1):
            return
        if self._boots() != boots:  # the session went with the reset: Link._resend's matter
            raise LinkError("MQTT publish: modem reset (RDY)")
        self.republished += 1  # the broker side: reconnect and publish once more
        if not (client.ensure() and client.publish(self.up_topic, data, 1)):
            raise LinkError("MQTT publish not confirmed: %s" % client.last_error)

    def _lost(self):
        self.client.connected = False  # the module's MQTT session is gone with its reset

    def _receive(self, timeout_ms, boots):
        # Ack-topic payloads within timeout_ms. A dropped connection is re-established once
        # (acks published meanwhile may be lost: the app sends the records again later); a
        # modem reset (RDY) ends the wait (Link.receive: up again and the frame once more).
        clock = self.modem.clock
        deadline = clock.ticks_add(clock.ticks_ms(), timeout_ms)
        out = []
        reconnected = False
        while True:
            left = clock.ticks_diff(deadline, clock.ticks_ms())
            for topic, payload in self.client.messages(max(0, min(left, _SLICE_MS))):
                if topic == self.ack_topic:
                    out.append(payload)
                    self.bytes_down += len(payload)
            left = clock.ticks_diff(deadline, clock.ticks_ms())
            if out or left <= 0 or self._boots() != boots:
                return out
            if not self.client.connected:
                if reconnected or not self.client.ensure():
                    return out
                reconnected = True

    def down(self):
        self.client.disconnect()
        if self.sleep_after:
            bearer.sleep(self.modem)


def make(cfg, modem, host, port):
    # The link for transport mqtt (app.links.make_link): the module's MQTT client (AT+QMT*) to
    # the broker at host:port, client id nbkit-<device_id>.
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
