# Device configuration: one JSON file on flash, replaced atomically (write <path>.tmp, then
# rename over <path>), so a power cut leaves the old or the new config, never a broken one.
# validate() is shared with the host (`nbkit keys new` writes provisioning configs through it).
# The device key lives in its own file beside it (key_path(): `device.key`, hex), never in
# config.json on a device: load() adds it to the config in RAM; move_key() moves a key found in
# config.json (a host-made config, an older firmware) into its file at the next power-on.
import json
import os

from nbkit import profiles

try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


_MAX_BYTES = const(2048)  # a config file larger than this is refused unread

# name -> (type, default or None when required, check(value) -> problem or None)
_U32 = const(0xFFFFFFFF)


def _range(lo, hi):
    def check(v):
        return None if lo <= v <= hi else "must be %d..%d" % (lo, hi)

    return check


def _key_hex(v):
    if len(v) not in (32, 64):
        return "must be 16 or 32 bytes as hex (32 or 64 hex digits)"
    for c in v:
        if c not in "0123456789abcdefABCDEF":
            return "must be hex digits only"
    return None


def _host(v):
    return None if 0 < len(v) <= 253 and " " not in v else "must be a host name or IP address"


def _pin(v):
    # "" = no PIN: the console unlocks only by challenge-response with the device key. Stored
    # as its salted hash (nbkit.console.auth.hash_pin: "pbkdf2-sha256$rounds$salt$hash"); a
    # plain PIN (as typed, or an older config) is hashed by the device at its next power-on.
    if v == "" or (4 <= len(v) <= 12 and v.isdigit()):
        return None
    if v.startswith("pbkdf2-sha256$") and len(v) <= 160:
        return None
    return "must be 4 to 12 digits, or empty (challenge-response only)"


def _profile(v):
    known = profiles.names()
    return None if v in known else "must be one of " + ", ".join(known)


def _apn(v):
    return None if len(v) <= 62 and '"' not in v else "must be at most 62 characters, no quotes"


def _transport(v):
    return None if v in ("udp", "tcp", "mqtt", "coap") else "must be udp, tcp, mqtt or coap"


def _mqtt_text(v):
    return None if len(v) <= 64 and '"' not in v else "must be at most 64 characters, no quotes"


FIELDS = {
    "device_id": (int, None, _range(0, _U32)),
    "key": (str, None, _key_hex),
    "server_host": (str, None, _host),
    "server_port": (int, None, _range(1, 65535)),
    "apn": (str, "", _apn),
    "read_interval_s": (int, 900, _range(10, 86400)),
    "report_interval_s": (int, 14400, _range(60, 7 * 86400)),
    # where in each report interval this device reports (s after the slot start): a fleet's
    # meters get different phases so the collector and the cell do not see them all at once
    "report_phase_s": (int, 0, _range(0, 7 * 86400)),
    "leak_lph": (int, 30, _range(0, 100000)),  # flow never below this for a day: leak
    "burst_lph": (int, 3000, _range(0, 1000000)),  # flow above this: burst
    "litres_per_pulse": (int, 1, _range(1, 1000)),  # water/gas meter pulse weight
    "low_battery_mv": (int, 3300, _range(2000, 4200)),
    "service_pin": (str, "", _pin),  # console PIN (nbkit.console); secret, never read back
    "profile": (str, profiles.DEFAULT, _profile),  # what the device is (nbkit.profiles)
    "heartbeat_s": (int, 86400, _range(60, 7 * 86400)),  # smoke: sign of life at least this often
    "transport": (str, "udp", _transport),  # nbkit.app.links.make_link
    "mqtt_user": (str, "", _mqtt_text),
    "mqtt_password": (str, "", _mqtt_text),
    "mqtt_keepalive_s": (int, 120, _range(30, 3600)),
}


class ConfigError(ValueError):
    pass


def validate(cfg):
    # -> cfg with defaults filled in; ConfigError naming every problem found.
    if not isinstance(cfg, dict):
        raise ConfigError("config must be a JSON object")
    problems = []
    out = {}  # type: dict
    for name in sorted(FIELDS):
        kind, default, check = FIELDS[name]
        if name not in cfg:
            if default is None:
                problems.append("%s: missing (required)" % name)
            else:
                out[name] = default
            continue
        value = cfg[name]
        if type(value) is not kind:  # exact: a bool is not an int here
            problems.append("%s: must be %s, got %r" % (name, kind.__name__, value))
            continue
        problem = check(value)
        if problem:
            problems.append("%s: %s" % (name, problem))
        out[name] = value
    for name in cfg:
        if name not in FIELDS:
            problems.append("%s: unknown setting" % name)
    if not problems and int(out["report_interval_s"]) < int(out["read_interval_s"]):
        problems.append("report_interval_s: must not be shorter than read_interval_s")
    if not problems and int(out["report_phase_s"]) >= int(out["report_interval_s"]):
        problems.append("report_phase_s: must be shorter than report_interval_s")
    if problems:
        raise ConfigError("; ".join(problems))
    return out


def key_bytes(cfg):
    from binascii import unhexlify

    return unhexlify(cfg["key"])


def key_path(path):
    # the device key's file beside the config file at path
    cut = path.rfind("/") + 1
    return path[:cut] + "device.key"


def read_key(path):
    # -> the device key as hex from key_path(path), or None when there is no valid one
    try:
        with open(key_path(path)) as f:
            text = f.read(80).strip()
    except OSError:
        return None
    return None if _key_hex(text) else text


def write_key(path, key_hex):
    # the key file, replaced atomically
    kp = key_path(path)
    with open(kp + ".tmp", "w") as f:
        f.write(key_hex)
    os.rename(kp + ".tmp", kp)


def _read(path):
    try:
        with open(path) as f:
            text = f.read(_MAX_BYTES + 1)
    except OSError:
        raise ConfigError("%s: no config (provision the device first)" % path) from None
    if len(text) > _MAX_BYTES:
        raise ConfigError("%s: larger than %d bytes" % (path, _MAX_BYTES))
    try:
        return json.loads(text)
    except ValueError:
        raise ConfigError("%s: not valid JSON" % path) from None


def load(path):
    # -> validated config (with the key from its own file); ConfigError when missing, too
    # large, not JSON or invalid.
    cfg = _read(path)
    key = read_key(path)
    if isinstance(cfg, dict) and key is not None:
        cfg["key"] = key  # the file wins: `key set` writes it before cleaning config.json
    return validate(cfg)


def complete(path, cfg):
    # After load(): the settings config.json lacks (a console-provisioned config may lack the
    # optional ones) are written into it with their value in cfg (the defaults), atomically, so
    # that a timer wake can read the file as it is (app.device) instead of validating it again.
    # The key stays in its own file. -> True when config.json changed.
    try:
        saved = _read(path)
    except ConfigError:
        return False
    if not isinstance(saved, dict):
        return False
    missing = [name for name in FIELDS if name != "key" and name not in saved]
    if not missing:
        return False
    for name in missing:
        saved[name] = cfg[name]
    _write(path, saved)
    return True


def move_key(path):
    # A key in config.json goes to its own file (written first, unless a key file is there
    # already: it is the newer), then leaves config.json; a cut between the two leaves it in
    # both and the next call finishes. -> True when config.json changed.
    try:
        cfg = _read(path)
    except ConfigError:
        return False
    if not isinstance(cfg, dict) or not isinstance(cfg.get("key"), str) or _key_hex(cfg["key"]):
        return False
    key = cfg.pop("key")
    if read_key(path) is None:
        write_key(path, key)
    _write(path, cfg)
    return True


def save(path, cfg):
    # Validate, then replace the file atomically. Nothing is written when cfg is invalid.
    cfg = validate(cfg)
    _write(path, cfg)
    return cfg


def _write(path, cfg):
    # config.json replaced atomically: a power cut leaves the old file or the new one
    with open(path + ".tmp", "w") as f:
        f.write(json.dumps(cfg))
    os.rename(path + ".tmp", path)
