# Frames over a TCP connection (TcpLink) or as UDP datagrams (QiUdpLink) through a Quectel
# QI-stack modem (EC200/EC600 Cat1, BC26): the calls of nbkit.app.link (MIT licence).
#
# TCP is a byte stream, so every frame travels with a 2-byte big-endian length prefix, both ways
# (the collector's TCP intake does the same, docs/architecture.md):
#     +--------+--------+---------------------+
#     | len hi | len lo | frame (len bytes)   |     1 <= len <= proto.frame.MAX_FRAME (512)
#     +--------+--------+---------------------+
# A length of 0 or above MAX_FRAME means the stream is out of step: the buffer is dropped, the
# connection closed (counted in stream_errors) and the next up() starts a new one.
from micropython import const

from nbkit.app import bearer
from nbkit.app.link import Link, LinkError
from nbkit.proto.frame import MAX_FRAME

_HEADER = const(2)
_BUF_MAX = 2 * (MAX_FRAME + _HEADER)  # bytes of stream kept between frames


def pack(data):
    if not 0 < len(data) <= MAX_FRAME:
        raise ValueError("frame must be 1..%d bytes" % MAX_FRAME)
    return bytes((len(data) >> 8, len(data) & 0xFF)) + data


class Unframer:
    # Stream bytes in (feed), whole frames out (frames); bounded, never grows past _BUF_MAX.

    def __init__(self):
        self.buf = b""
        self.errors = 0
        self._out = []

    def feed(self, data):
        # -> False when the stream is out of step (bad length or overflow): buffer dropped.
        self.buf += data
        while len(self.buf) >= _HEADER:
            n = (self.buf[0] << 8) | self.buf[1]
            if not 0 < n <= MAX_FRAME:
                return self._broken()
            if len(self.buf) < _HEADER + n:
                break
            self._out.append(self.buf[_HEADER : _HEADER + n])
            self.buf = self.buf[_HEADER + n :]
        return len(self.buf) <= _BUF_MAX or self._broken()

    def frames(self):
        out, self._out = self._out, []
        return out

    def _broken(self):
        self.errors += 1
        self.buf = b""
        return False


class TcpLink(Link):
    KIND = "TCP"

    def __init__(self, modem, host, port, attach_timeout_ms=120000, *, sleep_after=True):
        super().__init__(modem, attach_timeout_ms)
        self.host = host
        self.port = port
        self.sleep_after = sleep_after
        self.sock = None
        self.rx = Unframer()

    @property
    def stream_errors(self):
        return self.rx.errors

    def up(self):
        self.used = True
        self._drop_connection()  # a connection left over from an up() without down()
        if not bearer.up(self.modem, self.attach_timeout_ms):
            return False
        try:
            self.sock = self.modem.open(self.KIND, self.host, self.port)  # close+retry inside
        except Exception as exc:  # ModemError: +QIOPEN error code or no answer
            self.modem.last_error = str(exc)
            return False
        self.rx = Unframer()
        return True

    def send(self, data, last=True, expect_reply=True):
        # last/expect_reply: no release assistance on Cat1; the connection stays until down().
        if self.sock is None:
            raise LinkError("send() before up()")
        if self.modem.closed(self.sock):
            raise LinkError("%s connection closed" % self.KIND)
        try:
            self._send_checked(data, 0, expect_reply)  # a reset (RDY) under QISEND: once more
        except LinkError:
            raise
        except Exception as exc:  # SEND FAIL, ERROR: the frame stays queued in the app
            raise LinkError(str(exc)) from None

    def _send_raw(self, data, flags):
        self.modem.send(self.sock, self._pack(data))

    def _receive(self, timeout_ms, boots):
        # Whole frames that arrived within timeout_ms (returns at the first complete frame). A
        # reset (RDY) during the wait closes the connection (Link.receive resends).
        if self.sock is None:
            return []
        clock = self.modem.clock
        deadline = clock.ticks_add(clock.ticks_ms(), timeout_ms)
        while True:
            for chunk in self.modem.recv(
                self.sock, max(0, clock.ticks_diff(deadline, clock.ticks_ms()))
            ):
                if not self._feed(chunk):
                    self._drop_connection()
                    break
            out = self.rx.frames()
            left = clock.ticks_diff(deadline, clock.ticks_ms())
            if out or left <= 0 or self.sock is None or self.modem.closed(self.sock):
                for frame in out:
                    self.bytes_down += len(frame)
                return out

    def _pack(self, data):
        return pack(data)

    def _feed(self, chunk):
        return self.rx.feed(chunk)

    def down(self):
        self._drop_connection()
        if self.sleep_after:
            bearer.sleep(self.modem)

    def _drop_connection(self):
        if self.sock is not None:
            sock, self.sock = self.sock, None
            try:
                self.modem.close(sock)
            except Exception as exc:  # already gone (closed by peer, pdpdeact, reboot)
                self.modem.last_error = str(exc)


class QiUdpLink(TcpLink):
    # Frames as UDP datagrams through a QI-stack modem (AT+QIOPEN "UDP", a connected UDP
    # service; Cat1's counterpart of app.link.UdpLink): one frame per datagram, no length
    # prefix; each pushed "+QIURC: "recv"" payload is one datagram.
    KIND = "UDP"

    def _pack(self, data):
        if not 0 < len(data) <= MAX_FRAME:
            raise ValueError("frame must be 1..%d bytes" % MAX_FRAME)
        return data

    def _feed(self, chunk):
        self.rx._out.append(bytes(chunk))
        return True


def make(cfg, modem, host, port):
    # The link for transport tcp, or udp on a QI module (app.links.make_link).
    if cfg.get("transport", "udp") == "udp":
        return QiUdpLink(modem, host, port)
    return TcpLink(modem, host, port)
