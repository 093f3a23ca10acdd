# Signal quality, AT+CSQ (3GPP TS 27.007 §8.5) (MIT licence).
from nbkit.lte.fields import body, num, split

CMD = "AT+CSQ"
PREFIX = "+CSQ:"
RSSI_UNKNOWN = 99


# +CSQ:<rssi>,<ber>     e.g. "+CSQ:18,99"; rssi 0..31, 99 = unknown; ber is always 99 on NB-IoT.
# Returns (rssi, ber) or None.
def parse(line):
    rest = body(line, PREFIX)
    if rest is None:
        return None
    f = split(rest)
    rssi = num(f, 0)
    if rssi is None:
        return None
    return (rssi, num(f, 1))


def rssi_dbm(rssi):
    # 27.007: 0 -> -113 dBm or less, 1 -> -111, 2..30 -> -109..-53 (2 dB steps), 31 -> -51 or
    # more; 99 (unknown) -> None.
    if rssi is None or rssi < 0 or rssi > 31:
        return None
    return -113 + 2 * rssi
