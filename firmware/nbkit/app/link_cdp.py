# Frames through an operator IoT platform over CoAP (BC95/BC28 AT+NMGS / +NNMI, helper
# nbkit.modem.bc95_cdp.Cdp): the four calls of nbkit.app.link (MIT licence). The platform
# forwards each uplink payload (one frame) to the collector and the collector's reply frame
# back as downlink; the module and platform do the CoAP, the app sees frames only.
from micropython import const

from nbkit.app import bearer
from nbkit.app.link import Link, LinkError

_SLICE_MS = const(1000)  # the ack wait looks for a reboot banner at least this often


class CdpLink(Link):
    def __init__(self, modem, cdp, attach_timeout_ms=120000):
        super().__init__(modem, attach_timeout_ms)
        self.cdp = cdp
        self.ready = False

    def up(self):
        self.used = True
        if not bearer.up(self.modem, self.attach_timeout_ms):
            return False
        self.ready = self.cdp.setup()
        if not self.ready:
            self.modem.last_error = "CDP: %s" % self.cdp.last_error
        return self.ready

    def send(self, data, last=True, expect_reply=True):
        # No release flag on AT+NMGS: the platform's reply (the ack) follows the uplink. A
        # module reboot under it: up again (attach, platform registration) and once more.
        if not self.ready:
            raise LinkError("send() before up()")
        self._send_checked(data, 0, expect_reply)

    def _send_raw(self, data, flags):
        if not self.cdp.send(data):
            raise LinkError("CDP uplink not sent: %s" % self.cdp.last_error)

    def _lost(self):
        self.ready = False  # the platform registration went with the reboot

    def _receive(self, timeout_ms, boots):
        # A reboot banner in the wait ends it (Link.receive: up again and the frame once more).
        if not self.ready:
            return []
        clock = self.modem.clock
        deadline = clock.ticks_add(clock.ticks_ms(), timeout_ms)
        while True:
            left = clock.ticks_diff(deadline, clock.ticks_ms())
            out = self.cdp.recv(max(0, min(left, _SLICE_MS)))
            for payload in out:
                self.bytes_down += len(payload)
            if out or left <= _SLICE_MS or self._boots() != boots:
                return out

    def down(self):
        # Nothing to release: no socket; the module returns to PSM by itself.
        self.ready = False


def make(cfg, modem, host, port):
    # The link for transport coap (app.links.make_link): the operator platform at host:port
    # through the module's CDP client (AT+NCDP, NMGS).
    from nbkit.modem.bc95_cdp import Cdp

    return CdpLink(modem, Cdp(modem, host, port))
