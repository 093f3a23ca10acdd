# Test bench for nbkit.console: a scripted transport on a ManualClock, an in-memory config
# and fake modem/selftest/log providers that answer like the real ones would.
from fake_config import MemConfig
from nbkit.console.console import Console
from nbkit.hal.clock import ManualClock

PIN = "482913"
KEY_HEX = "00112233445566778899aabbccddeeff0123456789abcdef0011223344556677"
MODEM = {
    "model": "nbkit-water-1",
    "modem": "Quectel BC95-B8 BC95HBR01A01",
    "imei": "867723030000001",
    "iccid": "89860317452000000001",
    "imsi": "460111000000001",
    "signal": "-79 dBm (csq 17)",
}


class ScriptedTransport:
    # The nbkit.hal transport contract, fed by the test. wait() with nothing to read moves the
    # virtual clock by the timeout, as a real wait would take that long.
    def __init__(self, clock):
        self.clock = clock
        self.rx = bytearray()
        self.pos = 0  # next byte of rx to hand out
        self.tx = bytearray()
        self.closed = False

    def write(self, data):
        self.tx.extend(data)
        return len(data)

    def read(self, n):
        data = bytes(self.rx[self.pos : self.pos + n])
        self.pos += len(data)
        if self.pos == len(self.rx):
            self.rx = bytearray()
            self.pos = 0
        return data

    def wait(self, timeout_ms):
        if self.pos < len(self.rx):
            return True
        self.clock.sleep_ms(timeout_ms)
        return False

    def close(self):
        self.closed = True


class Bench:
    def __init__(self, pin=PIN, info=True, checks=None, log=None, attempts=None):
        self.clock = ManualClock()
        self.transport = ScriptedTransport(self.clock)
        self.config = MemConfig({"device_id": "wm-000042"})
        self.modem = dict(MODEM)
        self.events = ["boot", "attach ok", "report sent seq=1"] if log is None else log
        self.nonce_count = 0
        self.checks = (
            checks
            if checks is not None
            else [
                ("modem", lambda: (True, "AT answered")),
                ("sim", lambda: (True, "READY")),
                ("attach", lambda: (True, "registered, home")),
                ("uplink", lambda: (True, "echo in 2 s")),
                ("sensor", lambda: (True, "pulse input idle")),
            ]
        )
        self.console = Console(
            self.transport,
            self.clock,
            self.config,
            pin=pin,
            info=(lambda: self.modem) if info else None,
            checks=self.checks,
            log=lambda n: self.events[-n:],
            rand=self._nonce,
            attempts=attempts,
        )
        self.output = bytearray()  # everything the device ever wrote (while record is True)
        self.record = True

    def _nonce(self, n):
        self.nonce_count += 1
        return bytes((self.nonce_count + i) & 0xFF for i in range(n))

    def raw(self, data):
        # Raw bytes in, everything the device wrote back out (str).
        self.transport.rx.extend(data)
        for _ in range(10000):
            if not self.console.poll(0):
                break
        out = bytes(self.transport.tx)
        if self.record:
            self.output.extend(out)
        self.transport.tx = bytearray()
        return out.decode()

    def feed(self, data):
        # Raw bytes in, every reply line out (CRLF stripped).
        text = self.raw(data)
        assert text == "" or text.endswith("\r\n"), text
        return text.split("\r\n")[:-1] if text else []

    def send(self, line):
        return self.feed(line.encode() + b"\r\n")

    def unlock(self):
        assert self.send("unlock " + PIN) == ["OK"]


class Attempts:
    # The wrong-attempt counter as a board keeps it in flash: survives a new Bench (a reset).
    def __init__(self):
        self.count = 0
        self.saves = 0

    def load(self):
        return self.count

    def save(self, n):
        self.count = n
        self.saves += 1


def data(reply):
    # The `key: value` lines of a reply as a list of (key, value).
    pairs = []
    for line in reply[:-1]:
        key, sep, value = line.partition(": ")
        assert sep, line
        pairs.append((key, value))
    return pairs
