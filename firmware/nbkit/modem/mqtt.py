# MQTT client over the modem's own AT MQTT stack (AT+QMT*: BC26/BC28-R2, EC200/EC600)
# (MIT licence). Builders/parsers and the payload encoding decision: nbkit.lte.qmt.
#
#   mq = MqttClient(engine, clock, host, port, client_id, user="", password="", keepalive_s=120)
#   mq.subscribe_on_connect("nbkit/42/ack")    # (re)subscribed at every connect, QoS 1
#   mq.ensure() -> bool          # connected? else close, cfg, open, connect, subscribe, with a
#                                # capped backoff between tries (1 s, 2 s, 4 s ... at most 30 s)
#   mq.publish(topic, payload, qos=1) -> bool   # True only when +QMTPUB reports the PUBACK
#   mq.messages(timeout_ms) -> [(topic, bytes)] # +QMTRECV payloads, hex decoded
#   mq.disconnect()                              # QMTDISC then QMTCLOSE
# +QMTSTAT (broker gone, ping timeout, PDP lost) marks the client disconnected and fails the
# publish in flight; the next ensure() reconnects. Nothing is lost by this client: a publish
# that was not confirmed returns False and the caller keeps the data (the app's durable queue
# drops records only on the collector's authenticated ack, so a duplicate is harmless).
from binascii import unhexlify

from micropython import const

from nbkit.lte import qmt

_OPEN_WAIT_MS = const(75000)  # +QMTOPEN (at-modems.md §7)
_CONN_WAIT_MS = const(15000)  # +QMTCONN (10 s typical)
_SUB_WAIT_MS = const(15000)
_PUB_WAIT_MS = const(20000)  # +QMTPUB for QoS 1: PUBACK, with the module's own retransmits
_DISC_WAIT_MS = const(5000)
_INBOX_MAX = const(8)
_TRIES = const(4)  # connect attempts per ensure()
_BACKOFF_FIRST_MS = const(1000)
_BACKOFF_CAP_MS = const(30000)


class MqttError(Exception):
    pass


class MqttClient:
    def __init__(
        self,
        engine,
        clock,
        host,
        port,
        client_id,
        *,
        user="",
        password="",
        keepalive_s=120,
        client=0,
        tries=_TRIES,
        backoff_cap_ms=_BACKOFF_CAP_MS,
    ):
        qmt.conn_cmd(client, client_id, user, password)  # refuses quotes now
        qmt.cfg_keepalive(client, keepalive_s)
        self.engine = engine
        self.clock = clock
        self.host = host
        self.port = port
        self.client_id = client_id
        self.user = user
        self.password = password
        self.keepalive_s = keepalive_s
        self.client = client
        self.tries = tries
        self.backoff_cap_ms = backoff_cap_ms
        self.connected = False
        self.last_error = None
        self.last_stat = None  # last +QMTSTAT code
        self.disconnects = 0  # +QMTSTAT seen
        self.reconnects = 0  # successful connects after the first
        self.connects = 0
        self.inbox_dropped = 0  # messages lost: inbox full or payload not hex
        self._topics = []
        self._msgid = 0
        self._results = {}  # key -> tuple from the URC: "open", "conn", "disc", "close",
        #                     ("sub", msgid), ("pub", msgid)
        self._inbox = []
        self._register_urcs()

    # -- connection -----------------------------------------------------------------------

    def subscribe_on_connect(self, topic):
        qmt.sub_cmd(self.client, 1, topic)  # refuses a bad topic now
        if topic not in self._topics:
            self._topics.append(topic)

    def ensure(self):
        # -> True when connected (now or after at most `tries` attempts with capped backoff).
        if self.connected:
            return True
        delay = _BACKOFF_FIRST_MS
        for attempt in range(self.tries):
            if attempt:
                self.engine.idle(delay)
                delay = min(delay * 2, self.backoff_cap_ms)
            if self._connect_once():
                if self.connects:
                    self.reconnects += 1
                self.connects += 1
                return True
        return False

    def _connect_once(self):
        e = self.engine
        c = self.client
        self._close_quietly()
        for cmd in (
            qmt.cfg_version(c),
            qmt.cfg_keepalive(c, self.keepalive_s),
            qmt.cfg_dataformat(c),
        ):
            if not e.command(cmd, None, 1000).ok:
                return self._fail("%s refused" % cmd)
        got = self._request("open", qmt.open_cmd(c, self.host, self.port), _OPEN_WAIT_MS)
        if got is None or got[1] != 0:
            why = "no +QMTOPEN" if got is None else qmt.OPEN_RESULTS.get(got[1], got[1])
            return self._fail("open %s:%d: %s" % (self.host, self.port, why))
        conn = qmt.conn_cmd(c, self.client_id, self.user, self.password)
        got = self._request("conn", conn, _CONN_WAIT_MS)
        if got is None or got[1] != qmt.RESULT_OK or (got[2] or 0) != 0:
            return self._fail("connect refused: %r" % (got,))
        self.connected = True
        for topic in self._topics:
            msgid = self._next_id()
            got = self._request(("sub", msgid), qmt.sub_cmd(c, msgid, topic), _SUB_WAIT_MS)
            if got is None or got[2] != qmt.RESULT_OK or got[3] == 128:
                self.connected = False
                return self._fail("subscribe %s refused: %r" % (topic, got))
        return True

    def disconnect(self):
        # Polite goodbye; never raises (the link may already be gone).
        if self.connected:
            self._request("disc", qmt.disc_cmd(self.client), _DISC_WAIT_MS)
        self.connected = False
        self._close_quietly()

    def _close_quietly(self):
        self._results.pop("close", None)
        reply = self.engine.command(qmt.close_cmd(self.client), None, 1000)
        if reply.ok:
            self._wait("close", _DISC_WAIT_MS)

    def _fail(self, why):
        self.last_error = why
        return False

    # -- publish / receive ----------------------------------------------------------------

    def publish(self, topic, payload, qos=1, retain=0):
        # -> True when the module reports the message delivered (QoS 1: PUBACK received).
        if not self.connected:
            return self._fail("not connected")
        msgid = self._next_id() if qos else 0
        key = ("pub", msgid)
        self._results.pop(key, None)
        reply = self.engine.command(
            qmt.pub_cmd(self.client, msgid, qos, retain, topic),
            None,
            5000,
            data=qmt.pub_data(payload),
        )
        if not reply.ok:
            return self._fail("QMTPUB refused: %r" % (reply,))
        deadline = self.clock.ticks_add(self.clock.ticks_ms(), _PUB_WAIT_MS)
        while True:
            got = self._results.get(key)
            if got is not None and got[2] != qmt.RESULT_RETRANSMIT:
                return got[2] == qmt.RESULT_OK or self._fail("publish failed: %r" % (got,))
            if not self.connected:
                return self._fail("disconnected (QMTSTAT %s) before PUBACK" % self.last_stat)
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0:
                return self._fail("no +QMTPUB for message %d" % msgid)
            self.engine.poll(left)

    def messages(self, timeout_ms=0):
        # -> [(topic, payload bytes)] received; waits up to timeout_ms for the first one,
        # returns early when the connection drops.
        deadline = self.clock.ticks_add(self.clock.ticks_ms(), timeout_ms)
        while not self._inbox and self.connected:
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0:
                break
            self.engine.poll(left)
        self.engine.poll(0)
        out, self._inbox = self._inbox, []
        return out

    # -- helpers --------------------------------------------------------------------------

    def _next_id(self):
        self._msgid = self._msgid % 65535 + 1
        return self._msgid

    def _request(self, key, cmd, wait_ms):
        # Command, then the URC that carries its result: -> the parsed tuple or None.
        self._results.pop(key, None)
        if not self.engine.command(cmd, None, 5000).ok:
            return None
        return self._wait(key, wait_ms)

    def _wait(self, key, wait_ms):
        deadline = self.clock.ticks_add(self.clock.ticks_ms(), wait_ms)
        while key not in self._results:
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0:
                return None
            self.engine.poll(left)
        return self._results.pop(key)

    # -- URCs (record state only) ---------------------------------------------------------

    def _register_urcs(self):
        on = self.engine.on_urc
        on(qmt.QMTOPEN, self._urc_pair("open", qmt.QMTOPEN))
        on(qmt.QMTDISC, self._urc_pair("disc", qmt.QMTDISC))
        on(qmt.QMTCLOSE, self._urc_pair("close", qmt.QMTCLOSE))
        on(qmt.QMTCONN, self._urc_conn)
        on(qmt.QMTSUB, self._urc_msg(qmt.QMTSUB, "sub"))
        on(qmt.QMTPUB, self._urc_msg(qmt.QMTPUB, "pub"))
        on(qmt.QMTRECV, self._urc_recv)
        on(qmt.QMTSTAT, self._urc_stat)

    def _urc_pair(self, key, prefix):
        def handler(line, data):
            got = qmt.parse_pair(line, prefix)
            if got and got[0] == self.client:
                self._results[key] = got

        return handler

    def _urc_conn(self, line, data):
        got = qmt.parse_ints(line, qmt.QMTCONN, 3)
        if got and got[0] == self.client:
            self._results["conn"] = got

    def _urc_msg(self, prefix, kind):
        def handler(line, data):
            got = qmt.parse_ints(line, prefix, 4)
            if got and got[0] == self.client:
                self._results[(kind, got[1])] = got

        return handler

    def _urc_recv(self, line, data):
        msg = qmt.parse_recv(line)
        if msg is None or msg.client != self.client:
            return
        try:
            payload = unhexlify(msg.payload)
        except ValueError:
            payload = None
        if payload is None or len(self._inbox) >= _INBOX_MAX:
            self.inbox_dropped += 1
            return
        self._inbox.append((msg.topic, payload))

    def _urc_stat(self, line, data):
        got = qmt.parse_pair(line, qmt.QMTSTAT)
        if got and got[0] == self.client:
            self.connected = False
            self.last_stat = got[1]
            self.disconnects += 1
            self.last_error = "QMTSTAT %d: %s" % (got[1], qmt.STAT_NAMES.get(got[1], "?"))
