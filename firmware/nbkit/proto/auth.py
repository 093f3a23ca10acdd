# HMAC-SHA256 (RFC 2104) on top of hashlib.sha256: MicroPython ships no hmac module.
# Checked against CPython's hmac and the RFC 4231 vectors by the tests (same bytes both sides).
import hashlib

try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


_BLOCK = const(64)  # SHA-256 block size, bytes


def hmac_sha256(key, msg):
    # Full 32-byte HMAC-SHA256 of msg under key (any key length).
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    pad = bytearray(_BLOCK)
    pad[: len(key)] = key
    for i in range(_BLOCK):
        pad[i] ^= 0x36
    inner = hashlib.sha256(pad)
    inner.update(msg)
    for i in range(_BLOCK):
        pad[i] ^= 0x36 ^ 0x5C  # ipad -> opad without a second buffer
    outer = hashlib.sha256(pad)
    outer.update(inner.digest())
    return outer.digest()


def tag(key, msg, size):
    # Truncated tag: the leftmost `size` bytes of HMAC-SHA256 (RFC 2104 section 5).
    return hmac_sha256(key, msg)[:size]


def pbkdf2_sha256(secret, salt, iterations, size=32):
    # PBKDF2-HMAC-SHA256 (RFC 8018 section 5.2), first block only (size <= 32): the same bytes
    # as CPython's hashlib.pbkdf2_hmac("sha256", ...). The padded keys are built once and the
    # running XOR is one integer, so an iteration is four hashlib calls and no Python byte loop.
    if size > 32:
        raise ValueError("pbkdf2_sha256: size above 32 bytes")
    if len(secret) > _BLOCK:
        secret = hashlib.sha256(secret).digest()
    ipad = bytearray(_BLOCK)
    ipad[: len(secret)] = secret
    opad = bytearray(ipad)
    for i in range(_BLOCK):
        ipad[i] ^= 0x36
        opad[i] ^= 0x5C
    u = salt + b"\x00\x00\x00\x01"
    acc = 0
    for _ in range(iterations):
        inner = hashlib.sha256(ipad)
        inner.update(u)
        outer = hashlib.sha256(opad)
        outer.update(inner.digest())
        u = outer.digest()
        acc ^= int.from_bytes(u, "big")
    return acc.to_bytes(32, "big")[:size]


def equal(a, b):
    # Constant-time comparison: the time taken does not tell how many leading bytes matched.
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0
