# In-memory device configuration with the interface nbkit.console expects (see console.py).
# A faithful stand-in for nbkit.store.config in console tests: same validation rules, all or
# nothing updates, write-only device key. Values arrive as typed text and are stored typed.
import hashlib

from nbkit.console.auth import key_fingerprint
from nbkit.proto.auth import hmac_sha256

NB_BANDS = (1, 2, 3, 4, 5, 8, 12, 13, 17, 18, 19, 20, 25, 26, 28, 31, 66, 70, 71, 72, 85)
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

DEFAULTS = {
    "device_id": "unset",
    "server": "collector.example.net:5683",
    "apn": "iot.nb",
    "bands": [8, 20],
    "sample_s": 60,
    "report_s": 3600,
    "heartbeat_s": 86400,
    "flow_alarm_lph": 500,
    "smoke_threshold": 1800,
}


def _int_in(lo, hi):
    def parse(text):
        if not text.isdigit():
            raise ValueError("expected a whole number from %d to %d" % (lo, hi))
        v = int(text)
        if not lo <= v <= hi:
            raise ValueError("%d out of range %d..%d" % (v, lo, hi))
        return v

    return parse


def _name(text, extra, max_len):
    if not 1 <= len(text) <= max_len:
        raise ValueError("1 to %d characters" % max_len)
    for ch in text:
        if ch not in _NAME_CHARS and ch not in extra:
            raise ValueError("character %r not allowed" % ch)
    return text


def _server(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError("expected host:port")
    _name(host, ".-", 253)
    if host.startswith(".") or host.endswith(".") or ".." in host:
        raise ValueError("bad host name %s" % host)
    _int_in(1, 65535)(port)
    return text


def _bands(text):
    bands = []
    for part in text.split(","):
        if not part.isdigit() or int(part) not in NB_BANDS:
            raise ValueError("%r is not an NB-IoT band" % part)
        if int(part) in bands:
            raise ValueError("band %s listed twice" % part)
        bands.append(int(part))
    return bands


RULES = {
    "device_id": lambda t: _name(t, "-_", 32),
    "server": _server,
    "apn": lambda t: _name(t, ".-", 62),
    "bands": _bands,
    "sample_s": _int_in(1, 3600),
    "report_s": _int_in(60, 7 * 86400),
    "heartbeat_s": _int_in(3600, 7 * 86400),
    "flow_alarm_lph": _int_in(0, 100000),
    "smoke_threshold": _int_in(1, 4095),
}


class MemConfig:
    def __init__(self, values=None):
        self._values = dict(DEFAULTS)
        self._values.update(values or {})
        self._key = None
        self.writes = 0
        self.resets = 0

    def get(self, key):
        return self._values[key]

    def items(self):
        return sorted(self._values.items())

    def snapshot(self):
        return dict(self._values), self._key

    def update(self, changes):
        parsed = {}
        for key in changes:
            if key not in RULES:
                raise ValueError("%s: unknown key" % key)
            try:
                parsed[key] = RULES[key](changes[key])
            except ValueError as e:
                raise ValueError("%s: %s" % (key, e)) from None
        merged = dict(self._values)
        merged.update(parsed)
        if merged["report_s"] < merged["sample_s"]:
            raise ValueError("report_s: must not be shorter than sample_s")
        self._values = merged
        self.writes += 1

    def set_key(self, key):
        if not 16 <= len(key) <= 32:
            raise ValueError("key: 16 to 32 bytes")
        self._key = bytes(key)

    def key_fingerprint(self):
        return None if self._key is None else key_fingerprint(self._key)

    def sign(self, data):
        return None if self._key is None else hmac_sha256(self._key, data)

    def factory_reset(self):
        self._values = dict(DEFAULTS)
        self._key = None
        self.resets += 1


def digest(config):
    # A short summary of everything stored, to compare before/after.
    values, key = config.snapshot()
    h = hashlib.sha256(repr(sorted(values.items())).encode())
    h.update(key or b"-")
    return h.digest()
