# The real configuration store (nbkit.store.config, one JSON file replaced atomically) behind the
# interface nbkit.console.Console expects (see console.py): get / items / update / set_key /
# key_fingerprint / sign / factory_reset, plus Attempts, the wrong-PIN count kept on flash.
#
# Values arrive as typed text: an int field takes decimal digits, a str field the text as is.
# update() checks every value and the whole config (nbkit.store.config.validate) before writing
# anything; the write is config.save's write-to-temp-then-rename, so a power cut leaves the old
# or the new file. Secrets are never read back: `key` (the device key, set only with `key set`,
# kept in its own file `device.key`: nbkit.store.config.key_path) is not listed, `service_pin`
# (stored as its salted hash) and `mqtt_password` read as "(set)" or "(none)".
#
# After a factory reset the file keeps only the service PIN (the technician's way back in) and
# misses required settings: the device is unprovisioned (config.load refuses it) until they are
# all set again. Such a partial config is saved as it is typed in, every given value checked.
import json
import os

from nbkit.console.auth import hash_pin, is_pin_hash, key_fingerprint
from nbkit.proto.auth import hmac_sha256
from nbkit.store import config

_MASKED = ("service_pin", "mqtt_password")  # secrets that can be set but never read back
_MISSING = "missing (required)"


class StoreConfig:
    def __init__(self, path):
        self.path = path
        self._cfg = None
        self.writes = 0  # completed saves (tests)

    def _values(self):
        # -> the stored config (cached); {} when none, a partial one after a factory reset
        if self._cfg is None:
            try:
                with open(self.path) as f:
                    cfg = json.loads(f.read(4096))
                self._cfg = cfg if isinstance(cfg, dict) else {}
            except (OSError, ValueError):
                self._cfg = {}
        return self._cfg

    def current(self):
        # -> the stored config with defaults, or None when it is not a complete valid one
        values = dict(self._values())
        key = self._key_hex()
        if key is not None:
            values["key"] = key
        try:
            return config.validate(values)
        except config.ConfigError:
            return None

    def get(self, key):
        if key not in config.FIELDS:
            raise KeyError(key)
        if key == "key":
            raise KeyError(key)  # write-only: `key fingerprint` says which key is set
        values = self._values()
        value = values.get(key, config.FIELDS[key][1])
        if key in _MASKED:
            return "(set)" if value else "(none)"
        return "(not set)" if value is None else value

    def items(self):
        return [(k, self.get(k)) for k in sorted(config.FIELDS) if k != "key"]

    def update(self, changes):
        merged = dict(self._values())
        for key in changes:
            merged[key] = _parse(key, changes[key])
        self._save(merged)

    def set_key(self, key):
        if len(key) not in (16, 32):
            raise ValueError("key: must be 16 or 32 bytes")
        config.write_key(self.path, _hex(key))
        self.writes += 1
        if "key" in self._values():  # an old key in config.json goes
            merged = dict(self._values())
            del merged["key"]
            _write(self.path, merged)
            self._cfg = merged
            self.writes += 1

    def move_key(self):
        # config.move_key for this store -> True when the key left config.json
        moved = config.move_key(self.path)
        if moved:
            self._cfg = None
        return moved

    def _key_hex(self):
        value = config.read_key(self.path)
        if value is None:
            value = self._values().get("key")  # not moved yet
            if not isinstance(value, str) or config.FIELDS["key"][2](value):
                return None
        return value

    def _key(self):
        value = self._key_hex()
        if value is None:
            return None
        from binascii import unhexlify

        return unhexlify(value)

    def key_fingerprint(self):
        key = self._key()
        return None if key is None else key_fingerprint(key)

    def sign(self, data):
        key = self._key()
        return None if key is None else hmac_sha256(key, data)

    def pin(self):
        # -> the service PIN for nbkit.console (None: challenge-response only)
        return self._values().get("service_pin") or None

    def protect_pin(self):
        # A plain service PIN on flash (typed by an older firmware, or a host-made config) is
        # replaced by its salted hash. -> True when the file was rewritten.
        pin = self._values().get("service_pin")
        if not pin or is_pin_hash(pin):
            return False
        merged = dict(self._values())
        merged["service_pin"] = hash_pin(pin, os.urandom(16))
        _write(self.path, merged)
        self._cfg = merged
        self.writes += 1
        return True

    def factory_reset(self):
        kept = {}
        if self.pin():
            kept["service_pin"] = self.pin()
        _write(self.path, kept)
        self._cfg = kept
        self.writes += 1
        try:
            os.remove(config.key_path(self.path))
        except OSError:
            pass  # no key file

    def _save(self, merged):
        # Whole-config check (with the key from its file); a partial config (after a factory
        # reset) may miss required keys. The key from its file is not written into config.json.
        check = dict(merged)
        filed = config.read_key(self.path)
        if filed is not None:
            check["key"] = filed
        try:
            cfg = config.validate(check)
        except config.ConfigError as exc:
            problems = [p for p in str(exc).split("; ") if not p.endswith(_MISSING)]
            if problems:
                raise ValueError("; ".join(problems)) from None
            cfg = merged
        if filed is not None:
            cfg.pop("key", None)
        _write(self.path, cfg)
        self._cfg = cfg
        self.writes += 1


def _parse(key, text):
    if key not in config.FIELDS:
        raise ValueError("%s: unknown setting" % key)
    if key == "key":
        raise ValueError("key: write-only, use key set <hex>")
    kind = config.FIELDS[key][0]
    if kind is int:
        if not text.isdigit() or len(text) > 10:
            raise ValueError("%s: expected a whole number, got %s" % (key, text[:16]))
        return int(text)
    if key == "service_pin" and text:
        if config.FIELDS[key][2](text) or is_pin_hash(text):
            raise ValueError("service_pin: must be 4 to 12 digits, or empty")
        return hash_pin(text, os.urandom(16))  # stored only as its salted hash
    return text


def _hex(data):
    from binascii import hexlify

    return hexlify(data).decode()


def _write(path, cfg):
    # config.save's atomic replacement, for a config that may be partial
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(cfg))
    os.rename(tmp, path)


class Attempts:
    # Wrong PIN / response count across resets (nbkit.console.auth.Guard): a small file,
    # replaced atomically, written only when the count changes.
    def __init__(self, path="service.attempts"):
        self.path = path

    def load(self):
        try:
            with open(self.path) as f:
                text = f.read(12).strip()
        except OSError:
            return 0
        return int(text) if text.isdigit() else 0

    def save(self, n):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d" % n)
        os.rename(tmp, self.path)
