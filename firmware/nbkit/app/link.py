# The uplink path as the application sees it: send a frame, receive replies, nothing about
# which modem or bearer carries them. UdpLink carries frames as UDP datagrams through a BC95/BC28
# (AT+NSOSTF with release assistance); other bearers (CoAP platform, MQTT, TCP) implement the
# same four calls:
#   up() -> bool        the bearer is usable (wakes the modem from PSM without re-attaching;
#                       attaches only when registration was really lost)
#   send(data, last, expect_reply)   one frame; last/expect_reply choose the release flag
#   receive(timeout_ms) -> [bytes]   replies that arrived (possibly none)
#   down()              release what up() took (the socket); the modem goes back to PSM itself
from micropython import const

from nbkit.lte import rai

_OPEN_TRIES = const(2)
_SOCKETS = const(7)  # BC95/BC28 socket ids 0..6


class LinkError(Exception):
    pass


class Link:
    # What every link keeps: its modem, whether up() ran in this wake, and traffic counters.
    # Reboot detection: a boot banner (REBOOT_CAUSE_*, RDY) during the send or the reply wait
    # leaves the modem state unknown; the link comes up again (the driver re-inits) and the frame
    # goes once more (resends counts these possible duplicates; the collector drops them by seq).
    def __init__(self, modem, attach_timeout_ms=120000):
        self.modem = modem
        self.attach_timeout_ms = attach_timeout_ms
        self.used = False  # up() was called in this wake
        self.uplinks = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.resends = 0  # frames sent again after a modem reboot
        self._last = None  # (data, flags) of the frame whose reply is awaited, until resent
        # set by the reporter when the collector left the last report unanswered: a link that
        # can (UDP with RAI) releases the RRC right after the send instead of holding it for a
        # reply that is unlikely to come; a reply still reaches the idle modem by paging
        self.release_early = False

    def granted(self):
        # (psm_granted, active_s, tau_s) as the network granted them (read while still up).
        return self.modem.granted()

    def up(self):
        raise NotImplementedError

    def _send_raw(self, data, flags):
        raise NotImplementedError  # one frame to the modem, as the link carries it

    def _boots(self):
        return getattr(self.modem, "boots", 0)

    def _sent(self, data):
        self.uplinks += 1
        self.bytes_up += len(data)

    def _send_checked(self, data, flags, expect_reply):
        # _send_raw once; a reboot under it: up again and send once more (then LinkError).
        self._last = (data, flags)
        boots = self._boots()
        try:
            self._send_raw(data, flags)
        except Exception as exc:
            if self._boots() == boots:
                raise
            self.modem.last_error = str(exc)
            if not self._resend():
                raise LinkError("modem rebooted during send: %s" % self.modem.last_error) from None
            return
        self._last = (data, flags) if expect_reply else None
        self._sent(data)

    def _resend(self):
        # once per frame: after a second reboot the frame stays queued for the next report
        last, self._last = self._last, None
        if last is None:
            return False
        self._lost()
        try:
            if not self.up():
                return False
            self._send_raw(*last)
        except Exception as exc:  # ModemError: the report ends, the frame stays queued
            self.modem.last_error = str(exc)
            return False
        self.resends += 1
        self._sent(last[0])
        return True

    def _lost(self):
        pass  # what the reboot took with it (the socket)

    def receive(self, timeout_ms):
        # Replies within timeout_ms (each link's _receive). A modem reboot (REBOOT_CAUSE_*, RDY)
        # during the wait ends it: the modem state is unknown, so the link comes up again
        # (re-init, re-attach, a new socket or session) and the frame goes once more.
        boots = self._boots()
        out = self._receive(timeout_ms, boots)
        if out or self._boots() == boots or self._last is None or not self._resend():
            return out
        return self._receive(timeout_ms, self._boots())

    def _receive(self, timeout_ms, boots):
        raise NotImplementedError  # replies within timeout_ms; a link may end early when
        # boots (the modem's reboot count when the wait began) changes


class UdpLink(Link):
    def __init__(self, modem, host, port, attach_timeout_ms=120000):
        # host must be an IP address: AT+NSOST takes no names (no DNS on the Huawei firmware).
        super().__init__(modem, attach_timeout_ms)
        self.host = host
        self.port = port
        self.sock = None

    def up(self):
        self.used = True
        if not (self.modem.resume() or self.modem.attach(self.attach_timeout_ms)):
            return False
        for attempt in range(_OPEN_TRIES):
            try:
                self.sock = self.modem.open_udp()
                return True
            except Exception as exc:  # ModemError: the module refused NSOCR
                self.modem.last_error = str(exc)
            if attempt == 0:
                self._close_stale()
        return False

    def _close_stale(self):
        # Sockets left open by an MCU reset mid-report (RAM lost, modem still on) use up the
        # module's seven: close them all, then open again. Local commands, nothing on the air.
        for sock in range(_SOCKETS):
            try:
                self.modem.close(sock)
            except Exception:  # not open: the module says so, nothing to do
                pass

    def send(self, data, last=True, expect_reply=True):
        if self.sock is None:
            raise LinkError("send() before up()")
        early = expect_reply and self.release_early  # every frame: the first may go unanswered
        flag = rai.FLAG_RELEASE if early else rai.nsostf_flag(last, expect_reply)
        self._send_checked(data, flag, expect_reply)

    def _send_raw(self, data, flags):
        self.modem.sendto(self.sock, self.host, self.port, data, flags)

    def _lost(self):
        self.sock = None  # gone with the reboot: nothing to close

    def _receive(self, timeout_ms, boots):
        if self.sock is None:
            return []
        out = []
        for dgram in self.modem.recv(self.sock, timeout_ms):
            if dgram.data:
                out.append(dgram.data)
                self.bytes_down += len(dgram.data)
        return out

    def down(self):
        if self.sock is not None:
            sock, self.sock = self.sock, None
            try:
                self.modem.close(sock)
            except Exception as exc:  # the socket is gone anyway (module rebooted, +NSOCLI)
                self.modem.last_error = str(exc)
