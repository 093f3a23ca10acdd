# Frames through an operator IoT platform over CoAP (BC95/BC28 AT+NMGS / +NNMI, helper
# nbkit.modem.bc95_cdp.Cdp): the four calls of nbkit.app.link (MIT licence). The platform
# forwards each uplink payload (one frame) to the collector and the collector's reply frame
# back as downlink; the module and platform do the CoAP, the app sees frames only.
from nbkit.app import bearer
from nbkit.app.link import Link, LinkError


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
        # No release flag on AT+NMGS: the platform's reply (the ack) follows the uplink.
        if not self.ready:
            raise LinkError("send() before up()")
        if not self.cdp.send(data):
            raise LinkError("CDP uplink not sent: %s" % self.cdp.last_error)
        self.uplinks += 1
        self.bytes_up += len(data)

    def receive(self, timeout_ms):
        if not self.ready:
            return []
        out = self.cdp.recv(timeout_ms)
        for payload in out:
            self.bytes_down += len(payload)
        return out

    def down(self):
        # Nothing to release: no socket; the module returns to PSM by itself.
        self.ready = False
