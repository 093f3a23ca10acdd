# Access control of the console: per-device service PIN or challenge-response with the device
# key, exponential lockout after wrong attempts, session expiry. All times come from a Clock.
# The challenge response is HMAC-SHA256 (nbkit.proto.auth, the one the frames use) computed by
# the config's sign(); comparisons are constant-time (proto.auth.equal).
import binascii
import hashlib

from micropython import const

from nbkit.proto.auth import equal, pbkdf2_sha256

_FREE_ATTEMPTS = const(3)  # wrong attempts allowed before the first lockout
_LOCKOUT_BASE_S = const(30)  # first lockout; doubles with every further wrong attempt
_LOCKOUT_MAX_S = const(3600)
_SESSION_IDLE_S = const(300)  # an unlocked session locks itself after this much silence
_CHALLENGE_S = const(60)  # a challenge nonce is valid this long, and only once
NONCE_LEN = const(16)
PIN_ITERATIONS = const(4096)  # PBKDF2 rounds of a stored PIN: ~80 ms on the unix port
_PIN_SCHEME = "pbkdf2-sha256"
_SALT_LEN = const(16)


def hash_pin(pin, salt, iterations=PIN_ITERATIONS):
    # -> the stored form of a service PIN: "pbkdf2-sha256$<rounds>$<salt hex>$<hash hex>"
    # (PBKDF2-HMAC-SHA256, a per-device random salt). The PIN itself is never stored.
    digest = pbkdf2_sha256(pin.encode(), salt, iterations)
    return "%s$%d$%s$%s" % (
        _PIN_SCHEME,
        iterations,
        binascii.hexlify(salt).decode(),
        binascii.hexlify(digest).decode(),
    )


def is_pin_hash(text):
    return isinstance(text, str) and text.startswith(_PIN_SCHEME + "$")


def _parse_pin_hash(text):
    # -> (rounds, salt, digest); ValueError when malformed
    parts = text.split("$")
    if len(parts) != 4 or parts[0] != _PIN_SCHEME or not parts[1].isdigit():
        raise ValueError("not a PIN hash")
    rounds = int(parts[1])
    if not 1 <= rounds <= 1000000:
        raise ValueError("PIN hash rounds out of range")
    return rounds, binascii.unhexlify(parts[2]), binascii.unhexlify(parts[3])


def key_fingerprint(key):
    # What a store should answer for key_fingerprint(): first 8 bytes of SHA-256, hex.
    return binascii.hexlify(hashlib.sha256(key).digest()[:8]).decode()


class Guard:
    # pin: the stored service PIN, hash_pin()'s form (a plain PIN, as tests and an old config
    # give it, is hashed here in RAM); None disables PIN unlock.
    # sign(data) -> HMAC-SHA256(device key, data), or None when no key is set.
    # rand(n) -> n random bytes (os.urandom on a board).
    # attempts: None, or an object with load() -> int and save(n) keeping the count of wrong
    # attempts across resets, so that a power cycle does not lift a lockout: a device that
    # boots with too many wrong attempts on record starts locked out again. Every attempt is
    # counted on flash BEFORE the compare (and cleared after a right one): cutting the power
    # when the answer shows (or when a write starts) never erases a guess.
    def __init__(self, clock, pin, sign, rand, attempts=None):
        self.clock = clock
        if pin is not None and not is_pin_hash(pin):
            pin = hash_pin(pin, rand(_SALT_LEN))
        try:
            self._pin = None if pin is None else _parse_pin_hash(pin)
        except ValueError:  # a damaged stored hash: challenge-response with the key still works
            self._pin = None
        self._sign = sign
        self._rand = rand
        self._attempts = attempts
        self.failures = 0
        self._locked_until = None
        self._unlocked_at = None
        self._expected = None
        self._nonce_at = 0
        if attempts is not None:
            self.failures = attempts.load()
            self._start_lockout()

    def _elapsed_s(self, since):
        return self.clock.ticks_diff(self.clock.ticks_ms(), since) // 1000

    def lockout_left_s(self):
        if self._locked_until is None:
            return 0
        left = self.clock.ticks_diff(self._locked_until, self.clock.ticks_ms())
        if left <= 0:
            self._locked_until = None  # forget it before the ticks counter wraps
            return 0
        return (left + 999) // 1000

    def is_unlocked(self):
        if self._unlocked_at is None:
            return False
        idle = self._elapsed_s(self._unlocked_at)
        if idle < 0 or idle >= _SESSION_IDLE_S:
            self._unlocked_at = None
            return False
        return True

    def tick(self):
        # Called at least every few seconds: expires sessions and lockouts on time, long
        # before ticks_ms() wraps around (about 12 days on a board).
        self.is_unlocked()
        self.lockout_left_s()

    def touch(self):
        # Activity keeps an unlocked session open.
        if self.is_unlocked():
            self._unlocked_at = self.clock.ticks_ms()

    def lock(self):
        self._unlocked_at = None
        self._expected = None

    def _start_lockout(self):
        over = self.failures - _FREE_ATTEMPTS
        if over >= 0:
            wait = min(_LOCKOUT_MAX_S, _LOCKOUT_BASE_S << min(over, 12))
            self._locked_until = self.clock.ticks_add(self.clock.ticks_ms(), wait * 1000)

    def _save(self):
        if self._attempts is not None:
            self._attempts.save(self.failures)

    def _attempt(self):
        # Durable before the compare: if this write fails (power cut), no verdict is given.
        self.failures += 1
        self._save()

    def _fail(self):
        self._start_lockout()

    def _ok(self):
        if self.failures:
            self.failures = 0
            self._save()
        self._locked_until = None
        self._expected = None
        self._unlocked_at = self.clock.ticks_ms()

    def try_pin(self, pin):
        # -> None when unlocked, else (code, reason) it was refused: 429 locked out, 400 not
        # possible, 403 wrong.
        left = self.lockout_left_s()
        if left:
            return 429, "locked out, retry in %d s" % left
        if self._pin is None:
            return 400, "PIN unlock disabled on this device"
        self._attempt()
        rounds, salt, digest = self._pin
        if equal(pbkdf2_sha256(pin.encode(), salt, rounds), digest):
            self._ok()
            return None
        self._fail()
        return 403, "wrong PIN (%d wrong in a row)" % self.failures

    def challenge(self):
        # -> a fresh nonce (bytes), or None when no device key is set. Only the newest nonce
        # is valid, once, for a limited time.
        nonce = self._rand(NONCE_LEN)
        self._expected = self._sign(nonce)
        if self._expected is None:
            return None
        self._nonce_at = self.clock.ticks_ms()
        return nonce

    def try_response(self, mac):
        left = self.lockout_left_s()
        if left:
            return 429, "locked out, retry in %d s" % left
        expected, self._expected = self._expected, None
        if expected is None or self._elapsed_s(self._nonce_at) >= _CHALLENGE_S:
            return 400, "no open challenge: ask for one with challenge"
        self._attempt()
        if equal(mac, expected):
            self._ok()
            return None
        self._fail()
        return 403, "wrong response (%d wrong in a row)" % self.failures
