# The field-technician console: one command per line, answers a program can parse and a human
# can read. This is not the Python REPL; nothing typed here is evaluated.
#
# Reply format (like AT): zero or more data lines `key: value`, then exactly one final line,
# `OK` or `ERR <code> <message>`. Lines end with CRLF. Blank lines get no reply. Codes:
#   400 malformed line or usage   401 unlock first      403 wrong PIN / response
#   404 unknown command or key    414 line too long     422 invalid value
#   429 locked out (retry later)  500 internal error    503 check failed / not available
#
# Commands (`help` lists them; words are case-insensitive; values may be "double quoted"):
#   help | ping [token] | echo on|off | identify | exit
#   unlock <pin> | challenge | respond <hex>
#   get [key] | set key=value [key=value ...] | key set <hex> | key fingerprint
#   selftest | log [n] | factory-reset confirm | repl confirm
# Only help, ping, echo, identify, unlock, challenge, respond and exit work while locked.
# `echo on` is for a person at a terminal: typed characters come back (after unlock, respond
# or key as *), backspace erases on screen; programs leave it off (the default).
#
# Objects the console is given (the board's main.py wires the real ones):
#   transport  nbkit.hal transport: write(b), read(n), wait(ms), close()
#   clock      nbkit.hal.clock Clock or ManualClock
#   config     get(key) -> value (KeyError when unknown); items() -> [(key, value)] without
#              secrets; update(dict of str -> str) validates EVERY value first and raises
#              ValueError("<key>: <reason>") leaving the stored config untouched on any error;
#              set_key(bytes) stores the device key (write-only); key_fingerprint() -> str, or
#              None when no key is set; sign(data) -> HMAC-SHA256(device key, data) or None when
#              no key is set; factory_reset().
#   pin        the per-device service PIN (str) or None (then only challenge-response unlocks)
#   info       callable -> dict with model, modem, imei, iccid, imsi, signal (raises when the
#              modem does not answer)
#   checks     list of (name, callable -> (ok: bool, detail: str)) run in order by `selftest`
#   log        callable(n) -> list of up to n event-log lines (str), oldest first
#   rand       callable(n) -> n random bytes (default os.urandom)
#   attempts   None, or load() -> int / save(n): wrong-attempt count kept across resets
import binascii
import gc

from micropython import const

import nbkit
from nbkit.console import auth, lines

_MAX_LINE = const(200)
_READ_CHUNK = const(64)
_LOG_DEFAULT = const(20)
_LOG_MAX = const(100)
_VALUE_MAX = const(120)  # longest value printed on one data line
_KEY_MIN = const(16)  # device key length in bytes
_KEY_MAX = const(32)
_PUBLIC = ("help", "ping", "echo", "identify", "unlock", "challenge", "respond", "exit")
_SECRET_WORDS = ("unlock", "respond", "key")  # what follows them is echoed as *
_IDENTIFY = ("model", "modem", "imei", "iccid", "imsi", "signal")

# name -> (usage, what it does)
_HELP = (
    ("help", "help", "list the commands"),
    ("ping", "ping [token]", "answer pong (lets a program find the start of a reply)"),
    ("echo", "echo on|off", "type-along echo for a terminal (secrets echo as *)"),
    ("identify", "identify", "model, firmware, modem, IMEI, ICCID, IMSI, signal"),
    ("unlock", "unlock <pin>", "open a service session with the device PIN"),
    ("challenge", "challenge", "get a nonce to answer with HMAC-SHA256(device key, nonce)"),
    ("respond", "respond <hex>", "open a service session with the challenge answer"),
    ("exit", "exit", "close the service session (lock)"),
    ("get", "get [key]", "show the configuration, or one key"),
    ("set", "set key=value [key=value ...]", "change configuration (all or nothing)"),
    ("key", "key set <hex> | key fingerprint", "store the device key (write-only)"),
    ("selftest", "selftest", "modem, SIM, attach, test uplink, sensor"),
    ("log", "log [n]", "last n event-log lines (default 20, max 100)"),
    ("factory-reset", "factory-reset confirm", "erase configuration and key"),
    ("repl", "repl confirm", "leave for the Python REPL until the next reset (logged)"),
)


class ConsoleError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def clean(value):
    # One printable ASCII line, bounded: nothing a value holds can fake an OK/ERR line.
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    s = str(value)
    if len(s) > _VALUE_MAX:
        s = s[: _VALUE_MAX - 3] + "..."
    for ch in s:
        if ch < " " or ch > "~":
            return "".join(c if " " <= c <= "~" else "?" for c in s)
    return s


def split_words(text):
    # Space-separated words; "double quotes" keep spaces inside one word (quotes removed).
    if '"' not in text:
        return text.split()
    words = []
    parts = []  # pieces of the current word
    inside = False
    start = 0
    for i in range(len(text) + 1):
        ch = text[i] if i < len(text) else " "
        if ch == '"' or (ch == " " and not inside):
            parts.append(text[start:i])
            start = i + 1
            if ch == '"':
                inside = not inside
                parts.append("")  # "" is a word of its own
            elif parts != [""]:
                words.append("".join(parts))
                parts = []
            else:
                parts = []
    if inside:
        raise ConsoleError(400, "unbalanced double quote")
    return words


def _urandom(n):
    import os

    return os.urandom(n)


class Console:
    def __init__(
        self,
        transport,
        clock,
        config,
        *,
        pin=None,
        info=None,
        checks=(),
        log=None,
        rand=None,
        attempts=None,
    ):
        self.transport = transport
        self.config = config
        self.info = info
        self.checks = checks
        self.log_reader = log
        self.guard = auth.Guard(clock, pin, config.sign, rand or _urandom, attempts)
        self.reader = lines.LineReader(_MAX_LINE)
        self.replies = 0
        self.errors = 0
        self.echo = False

    # -- transport side ------------------------------------------------------------------
    def poll(self, timeout_ms=0):
        # Wait up to timeout_ms for input, answer every complete line. -> True if bytes came.
        self.guard.tick()
        if not self.transport.wait(timeout_ms):
            return False
        data = self.transport.read(_READ_CHUNK)
        if not data:
            return False
        if not self.echo:
            self.reader.feed(data, self._on_line)
            return True
        for i in range(len(data)):
            self._send(self._echo_of(data[i]))
            self.reader.feed(data[i : i + 1], self._on_line)
        return True

    def _echo_of(self, b):
        # What the terminal should show for byte b, given the line typed so far.
        reader = self.reader
        if b in (10, 13):
            return "\r\n" if reader.ends_line(b) else ""
        if b in (8, 127):
            return "\b \b" if reader.erasable() else ""
        if (b < 32 and b != 9) or b > 126:
            return "?"
        if reader.full():
            return ""
        if reader.first_word() in _SECRET_WORDS:
            return "*"
        return chr(b)

    def serve(self, running=None):
        # Answer lines until running() says stop (forever on a board).
        while running is None or running():
            self.poll(1000)

    def _send(self, text):
        data = text.encode()
        sent = 0
        while sent < len(data):
            n = self.transport.write(data[sent:])
            if not n:
                return
            sent += n

    def _on_line(self, kind, value):
        out = []  # type: list[str]
        try:
            if kind == lines.OVERLONG:
                raise ConsoleError(414, "line too long (max %d characters), ignored" % value)
            if kind == lines.BAD:
                raise ConsoleError(400, "line has a non-ASCII or control byte 0x%02x" % value)
            words = split_words(value)
            if not words:
                return
            self.execute(words, out)
            out.append("OK")
        except ConsoleError as e:
            out.append("ERR %d %s" % (e.code, clean(e.message)))
        except MemoryError:
            gc.collect()
            out = ["ERR 500 out of memory"]
        except Exception as e:  # noqa: BLE001 - a failing provider must not stop the console
            out.append("ERR 500 internal error: %s" % clean(type(e).__name__))
        self.replies += 1
        if out[-1] != "OK":
            self.errors += 1
        self._send("\r\n".join(out) + "\r\n")

    # -- commands ------------------------------------------------------------------------
    def execute(self, words, out):
        # Run one command; data lines go to `out`, failures raise ConsoleError.
        name = words[0].lower()
        handler = getattr(self, "_cmd_" + name.replace("-", "_"), None)
        if handler is None or name not in _COMMAND_NAMES:
            raise ConsoleError(404, "unknown command %s (try help)" % clean(words[0][:20]))
        if name not in _PUBLIC:
            if not self.guard.is_unlocked():
                raise ConsoleError(401, "locked: unlock <pin> or challenge/respond first")
            self.guard.touch()
        handler(words[1:], out)

    def _data(self, out, key, value):
        out.append("%s: %s" % (key, clean(value)))

    def _no_args(self, args, usage):
        if args:
            raise ConsoleError(400, "usage: " + usage)

    def _cmd_help(self, args, out):
        for name, usage, what in _HELP:
            self._data(out, name, usage + " - " + what)

    def _cmd_ping(self, args, out):
        if len(args) > 1:
            raise ConsoleError(400, "usage: ping [token]")
        self._data(out, "pong", args[0] if args else "")

    def _cmd_echo(self, args, out):
        if len(args) != 1 or args[0].lower() not in ("on", "off"):
            raise ConsoleError(400, "usage: echo on|off")
        self.echo = args[0].lower() == "on"

    def _cmd_identify(self, args, out):
        self._no_args(args, "identify")
        self._data(out, "firmware", "nbkit " + nbkit.VERSION)
        try:
            self._data(out, "device_id", self.config.get("device_id"))
        except KeyError:
            pass
        if self.info is None:
            raise ConsoleError(503, "no modem information on this device")
        try:
            facts = self.info()
        except Exception as e:  # noqa: BLE001 - reported as an answer, console keeps going
            raise ConsoleError(503, "modem not answering: %s" % e) from None
        for key in _IDENTIFY:
            if key in facts:
                self._data(out, key, facts[key])
        for key in sorted(facts):
            if key not in _IDENTIFY:
                self._data(out, key, facts[key])

    def _cmd_unlock(self, args, out):
        if len(args) != 1:
            raise ConsoleError(400, "usage: unlock <pin>")
        self._refused(self.guard.try_pin(args[0]))

    def _refused(self, refusal):
        if refusal is not None:
            raise ConsoleError(refusal[0], refusal[1])

    def _cmd_challenge(self, args, out):
        self._no_args(args, "challenge")
        nonce = self.guard.challenge()
        if nonce is None:
            raise ConsoleError(503, "no device key set: challenge-response unavailable")
        self._data(out, "nonce", binascii.hexlify(nonce).decode())

    def _cmd_respond(self, args, out):
        if len(args) != 1:
            raise ConsoleError(400, "usage: respond <hex>")
        try:
            mac = binascii.unhexlify(args[0])
        except ValueError:
            raise ConsoleError(400, "respond: expected hex digits") from None
        self._refused(self.guard.try_response(mac))

    def _cmd_exit(self, args, out):
        self._no_args(args, "exit")
        self.guard.lock()

    def _cmd_get(self, args, out):
        if len(args) > 1:
            raise ConsoleError(400, "usage: get [key]")
        if not args:
            for key, value in self.config.items():
                self._data(out, key, value)
            return
        try:
            self._data(out, args[0], self.config.get(args[0]))
        except KeyError:
            raise ConsoleError(404, "unknown key %s" % clean(args[0][:32])) from None

    def _cmd_set(self, args, out):
        if not args:
            raise ConsoleError(400, "usage: set key=value [key=value ...]")
        changes = {}
        order = []  # dicts are not ordered in MicroPython; answer in the order given
        for word in args:
            eq = word.find("=")
            if eq <= 0:
                raise ConsoleError(400, "expected key=value, got %s" % clean(word[:32]))
            key = word[:eq]
            if key in changes:
                raise ConsoleError(400, "%s given twice" % clean(key))
            changes[key] = word[eq + 1 :]
            order.append(key)
        try:
            self.config.update(changes)
        except ValueError as e:
            raise ConsoleError(422, str(e)) from None
        for key in order:
            self._data(out, key, self.config.get(key))

    def _cmd_key(self, args, out):
        sub = args[0].lower() if args else ""
        if sub == "fingerprint" and len(args) == 1:
            fp = self.config.key_fingerprint()
            self._data(out, "fingerprint", fp or "none")
            return
        if len(args) != 2 or sub != "set":
            raise ConsoleError(400, "usage: key set <hex> | key fingerprint")
        self._set_key(args[1], out)

    def _set_key(self, text, out):
        # The key is never written back: errors say what is wrong, never what was sent.
        n = len(text) // 2
        try:
            key = binascii.unhexlify(text)
        except ValueError:
            raise ConsoleError(422, "key: expected an even number of hex digits") from None
        if not _KEY_MIN <= n <= _KEY_MAX:
            raise ConsoleError(422, "key: must be %d to %d bytes" % (_KEY_MIN, _KEY_MAX))
        try:
            self.config.set_key(key)
        except ValueError:
            raise ConsoleError(422, "key: refused by the key store") from None
        self._data(out, "fingerprint", self.config.key_fingerprint())

    def _cmd_selftest(self, args, out):
        self._no_args(args, "selftest")
        if not self.checks:
            raise ConsoleError(503, "no self-test checks on this device")
        failed = []
        for name, check in self.checks:
            try:
                ok, detail = check()
            except Exception as e:  # noqa: BLE001 - a crashing check is a failed check
                ok, detail = False, "%s: %s" % (type(e).__name__, e)
            self._data(out, name, ("ok " if ok else "fail ") + str(detail))
            if not ok:
                failed.append(name)
        if failed:
            raise ConsoleError(503, "selftest failed: " + ",".join(failed))

    def _cmd_log(self, args, out):
        if len(args) > 1:
            raise ConsoleError(400, "usage: log [n]")
        n = _LOG_DEFAULT
        if args:
            if not args[0].isdigit() or not 1 <= int(args[0]) <= _LOG_MAX:
                raise ConsoleError(400, "log: n must be a number from 1 to %d" % _LOG_MAX)
            n = int(args[0])
        if self.log_reader is None:
            raise ConsoleError(503, "no event log on this device")
        for entry in self.log_reader(n)[-n:]:
            self._data(out, "log", entry)

    def _cmd_factory_reset(self, args, out):
        if args != ["confirm"]:
            raise ConsoleError(400, "erases configuration and key: type factory-reset confirm")
        self.config.factory_reset()
        self.guard.lock()

    def _cmd_repl(self, args, out):
        # The service window (app/service_parts.py) opens the REPL; a bare console has none.
        raise ConsoleError(503, "no Python REPL behind this console")


_COMMAND_NAMES = tuple(name for name, _u, _w in _HELP)
