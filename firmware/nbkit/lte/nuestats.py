# UE statistics, AT+NUESTATS (Huawei / Quectel BC95 family) (MIT licence).
CMD = "AT+NUESTATS"

# Values meaning "not available" per key (Huawei firmware sentinels).
_SENTINELS = (-32768, 4294967295)
_SENTINEL_BY_KEY = {"ECL": 255, "PCI": 65535}


# Default (RADIO) form, one "key:value" line each, then OK:
#   Signal power:-819 / Total power:-761 / TX power:230 / TX time:1144 / RX time:76193 /
#   Cell ID:125414482 / ECL:0 / SNR:234 / EARFCN:2509 / PCI:226 / RSRQ:-108 / OPERATOR MODE:4
# Newer typed form: "NUESTATS:RADIO,Signal power,-819" (also accepted, with a "+" too).
# Powers, SNR and RSRQ are tenths (-819 = -81.9 dBm). Returns {key: int or None (sentinel)};
# lines that are not numbers are skipped.
def parse(lines):
    out = {}
    for line in lines:
        kv = _key_value(line)
        if kv is None:
            continue
        key, value = kv
        try:
            number = int(value)
        except ValueError:
            continue
        out[key] = None if _sentinel(key, number) else number
    return out


def _sentinel(key, number):
    return number in _SENTINELS or _SENTINEL_BY_KEY.get(key) == number


def _key_value(line):
    if line.startswith("+"):
        line = line[1:]
    if line.startswith("NUESTATS:"):
        parts = line[9:].split(",")
        if len(parts) != 3:
            return None
        return (parts[1].strip(), parts[2].strip())
    colon = line.find(":")
    if colon <= 0:
        return None
    return (line[:colon].strip(), line[colon + 1 :].strip())
