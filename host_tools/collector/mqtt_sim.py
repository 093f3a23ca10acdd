"""The collector's MQTT intake under the rig's time master.

The threaded intake (:func:`host_tools.collector.intake.serve_mqtt`) runs paho's network loop
on its own thread, in wall time. Under the master the collector is one participant, so this
intake is driven by the UDP intake's participant loop instead (like the TCP intake,
:mod:`.tcp`): its socket is read when ready, what paho queued is written at once, and every
publication is counted on its topic's channel, the other end counted by the emulator's MQTT
client (host_tools/emulator/qmqtt.py):

* ``mqtt:nbkit/<id>/up``: uplinks, sent by the device's emulator, received here; declared for
  every device of the keys file, so the first uplink is awaited too;
* ``mqtt:nbkit/<id>/ack``: the acks, sent here, received by the emulator (it declares the
  channel when it subscribes).

A message is counted received after its ack is counted sent, so no report of this
participant ever shows the uplink done and the ack not yet on its way. The broker is outside
the rig: what it relays is in flight on those channels until the far end has it.
"""

from __future__ import annotations

import time
from typing import Any

from host_tools.collector.intake import UP_TOPIC, SharedCollector, mqtt_uplink

#: wall seconds to wait for the broker's CONNACK and SUBACK when the intake starts
START_S = 5.0
#: wall seconds to keep reconnecting after the broker went away, and to wait for each attempt
RECONNECT_S = 30.0
RETRY_S = 0.5


class MqttSimIntake:
    """Subscribed to the uplink topic on the broker at ``host:port``, served by a loop that
    calls :meth:`on_ready` for :meth:`sockets` and :meth:`expire` between."""

    def __init__(
        self,
        shared: SharedCollector,
        host: str,
        port: int,
        *,
        counts: dict[str, int],
        devices: list[int],
        client_id: str = "nbkit-collector",
    ) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.shared, self.counts = shared, counts
        self.host, self.port = host, port
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True
        )
        self.client.on_message = lambda c, u, msg: self._message(msg)
        self._subscribed: list[int] = []
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.append(mid)
        self._connect()
        for device in devices:  # declared: every device's uplinks are awaited
            self._count(f"mqtt:nbkit/{device}/up<", 0)

    def _connect(self, wait_s: float = START_S) -> None:
        """Connect and subscribe, waiting (wall time) for the broker's CONNACK and SUBACK. At
        the start that is before the rig's time starts; after the broker went away it is while
        this participant is busy (its loop got the input): device time waits for it."""
        host, port = self.host, self.port
        try:
            self.client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise OSError(f"no MQTT broker at {host}:{port}: {exc}") from exc
        self._subscribed.clear()
        self.client.subscribe(UP_TOPIC, qos=1)
        end = time.monotonic() + wait_s
        while not self._subscribed:
            if time.monotonic() > end:
                self.client.disconnect()
                raise OSError(f"the broker at {host}:{port} did not confirm the subscription")
            self.client.loop(timeout=0.05)
        self.shared.collector.log(f"collector: mqtt subscribed {UP_TOPIC} on {host}:{port}")

    def _reconnect(self) -> None:
        """The broker went away (crashed, restarted): connect again until it is back (up to
        RECONNECT_S wall seconds, then the intake gives up and says so)."""
        self.shared.collector.log("collector: mqtt broker connection lost; reconnecting")
        end = time.monotonic() + RECONNECT_S
        while True:
            try:
                # a broker just restarted may take a connection and not answer it yet: try
                # again soon rather than wait out START_S
                self._connect(RETRY_S)
                return
            except OSError as exc:
                if time.monotonic() > end:
                    self.shared.collector.log(f"collector: mqtt intake down: {exc}")
                    return
                time.sleep(0.1)

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def sockets(self) -> list[Any]:
        sock = self.client.socket()
        return [sock] if sock is not None else []

    def on_ready(self, sock: Any) -> None:
        import paho.mqtt.client as paho

        if self.client.loop_read() != paho.MQTT_ERR_SUCCESS or self.client.socket() is None:
            self._reconnect()
        self._flush()

    def next_expiry(self) -> float | None:
        return None  # keep-alive pings run on paho's wall clock, as the broker's checks do

    def expire(self) -> None:
        self.client.loop_misc()
        self._flush()

    def close(self) -> None:
        self.client.disconnect()

    def _flush(self) -> None:
        for _ in range(64):  # bounded: what paho queued goes out now, at this instant
            if not self.client.want_write():
                return
            self.client.loop_write()

    def _message(self, msg: Any) -> None:
        acked = mqtt_uplink(self.shared, self.client, msg)
        if acked is not None:
            self._count(f"mqtt:{acked}>")  # counted before it goes (in flight, never unsent)
            self._flush()
        self._count(f"mqtt:{msg.topic}<")
