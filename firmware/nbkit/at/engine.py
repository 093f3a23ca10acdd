# AT engine: one command at a time over a Transport, lines routed by priority (MIT licence).
#
# Modem independent. It sees only a Transport (write / read(n) / wait(timeout_ms) / close,
# docs/architecture.md) and a Clock (nbkit/hal/clock.py); every wait is transport.wait, every
# deadline is clock ticks, so a scripted fake with a ManualClock runs it in virtual time.
#
# Bytes -> lines: CR or LF ends a line (CRLF, CR-only and LF-only all work), empty lines are
# skipped, bytes outside printable ASCII are dropped and counted (boot garbage), a line longer
# than line_max is dropped whole and counted. The buffer is preallocated: nothing grows.
#
# Lines -> meaning, in this order (Zephyr modem_chat order; never "starts with '+'"):
#   0. an abort line (abort_on, e.g. the Quectel boot banner "RDY") while a command runs ->
#      the command ends at once with RESULT_ABORT (no answer will come), and the line goes
#      on to the URC table (the driver counts the reboot). A banner that ends in its own
#      OK (Huawei "...Neul", OK: banner_end = ("Neul",)): that OK is no command's answer. It
#      ends the command the reset came under with RESULT_ABORT (with banner=True, AT+NRB's
#      wait with OK) and is dropped otherwise. An AT written while the module boots is still
#      answered after the banner: taking the banner's OK for it would pair every later reply
#      one off.
#   1. echo of the running command (ATE1 echoes "cmd\r")        -> skipped
#   2. the running command's expected prefix(es)                 -> reply line
#   3. final result codes OK / ERROR / +CME ERROR[: ]n / +CMS ERROR[: ]n (+ per-command extras)
#   4. the URC table (registered prefixes)                       -> bounded URC queue
#   5. expect="" (bare-line replies: IMEI, CIMI, socket id)      -> reply line
#   6. anything else                                             -> dropped, counted
# So "+CSQ:18,99" is a reply while AT+CSQ runs, and "+CEREG:1" during AT+CFUN=1 is a URC.
#
# URC handlers run from dispatch() (after every read while a command waits, and in poll()),
# with the engine marked busy: a handler that calls command() gets RuntimeError. Handlers set
# state; the driver acts after. The URC queue is bounded: when a burst overfills it between two
# dispatches, new URCs are dropped and counted.
#
# Watchdog: every wait feeds nbkit.hal.watchdog and lasts at most _FEED_SLICE_MS at a time (a
# long command timeout is waited in slices), so a legitimate wait never starves it.
#
# Binary data: a '>' prompt (no CRLF) is detected at the start of a line while a command waits
# for it; command(..., data=b"...") then writes the raw bytes. Counted raw reads: a URC entry or a
# command may give raw_len(line) -> n; the next n bytes are taken verbatim (CR, LF, "OK" and all)
# and handed over with the line, then line parsing resumes (a URC glued after them is fine).
from micropython import const

from nbkit.hal import watchdog

RESULT_OK = "OK"
RESULT_ERROR = "ERROR"
RESULT_CME = "CME"  # +CME ERROR: n (27.007 mobile equipment error; needs AT+CMEE=1)
RESULT_CMS = "CMS"  # +CMS ERROR: n (27.005 message service error)
RESULT_TIMEOUT = "TIMEOUT"
RESULT_ABORT = "ABORT"  # an abort line (abort_on) came: the module rebooted under the command

_CR = const(13)
_LF = const(10)
_PROMPT = const(62)  # '>' of AT+QISEND / AT+QMTPUB data mode
_CHUNK = const(128)  # bytes asked from the transport per read
_PUMP_CHUNKS = const(16)  # reads per pump before the deadline is looked at again
_RAW_TIMEOUT_MS = const(2000)  # a counted raw read that stalls this long is abandoned
_MAX_REPLY_LINES = const(32)  # reply lines kept per command (NCONFIG?, NUESTATS=ALL fit)
_FEED_SLICE_MS = const(1000)  # longest single transport wait between two watchdog feeds


class Reply:
    # Outcome of one command: result (RESULT_*), cme (the error number or None), lines (the reply
    # lines, prefixes included), data (bytearray read by count, or None), finals (result codes).

    def __init__(self, result, lines, cme=None, data=None, finals=0):
        self.result = result
        self.lines = lines
        self.cme = cme
        self.data = data
        self.finals = finals

    @property
    def ok(self):
        return self.result == RESULT_OK

    def first(self, prefix=""):
        # The first reply line starting with prefix, prefix removed (None when absent).
        for line in self.lines:
            if line.startswith(prefix):
                return line[len(prefix) :]
        return None

    def __repr__(self):
        return "<Reply %s cme=%s lines=%r>" % (self.result, self.cme, self.lines)


class _Cmd:
    # State of the running command (one at a time).

    def __init__(self, text, expect):
        self.text = text
        self.expect = expect  # tuple of prefixes; ("",) = bare lines
        self.finals = 1  # result codes to wait for (concatenated commands answer several)
        self.extra_ok = ()  # extra success finals, e.g. ("SEND OK",)
        self.extra_err = ()  # extra failure finals, e.g. ("SEND FAIL",)
        self.raw_len = None
        self.data = None  # raw bytes to write after the '>' prompt, or None
        self.banner = False  # a boot banner's own OK answers it (AT+NRB)
        self.lines = []
        self.raw = None
        self.seen = 0
        self.result = None
        self.cme = None


def final_code(line):
    # (result, number) for a final result code line, else None. "+CME ERROR: 159" and
    # "+CME ERROR:159" both parse; a verbose CMEE=2 text gives number None.
    if line == "OK":
        return (RESULT_OK, None)
    if line == "ERROR":
        return (RESULT_ERROR, None)
    if line.startswith("+CME ERROR:"):
        return (RESULT_CME, _int_or_none(line[11:]))
    if line.startswith("+CMS ERROR:"):
        return (RESULT_CMS, _int_or_none(line[11:]))
    return None


def _int_or_none(text):
    try:
        return int(text.strip())
    except ValueError:
        return None


class Engine:
    # transport: Transport; clock: Clock; line_max: longest line kept (bytes);
    # urc_max: URC queue depth; raw_max: longest counted raw read kept (longer ones are skipped).

    def __init__(self, transport, clock, line_max=1100, urc_max=16, raw_max=1600):
        self.transport = transport
        self.clock = clock
        self.line_max = line_max
        self._line = bytearray(line_max)
        self._n = 0
        self._overlong = False
        self._skip_lf = False  # a line ended on CR at the end of a read: its LF may follow
        self._urc_table = []  # [(prefix, handler, raw_len)]
        self._queue = []  # [(handler, line, data)], at most urc_max
        self._urc_max = urc_max
        self._raw_max = raw_max
        self._raw_need = 0  # bytes still to take verbatim
        self._raw_buf = None  # bytearray being filled, or None when skipping
        self._raw_got = 0
        self._raw_to = None  # (handler, line) of a URC, or the _Cmd reading raw
        self._raw_deadline = 0
        self._cmd = None
        self._busy = False
        self.abort_on = ()  # whole lines that end a running command (RESULT_ABORT)
        self.banner_end = ()  # whole lines after which a boot banner's own OK follows
        self._banner_at = None  # (the command running when a banner_end line came,) or None
        self.reset_counters()

    # -- API ------------------------------------------------------------------------------

    def reset_counters(self):
        self.commands = 0  # commands written
        self.timeouts = 0  # commands that got no final result in time
        self.dropped = 0  # complete lines nobody expected (stray OK, unknown text)
        self.overlong = 0  # lines longer than line_max, dropped whole
        self.garbage = 0  # non-printable bytes dropped outside raw reads
        self.urcs = 0  # URCs queued
        self.urcs_dropped = 0  # URCs lost because the queue was full
        self.raw_dropped = 0  # counted raw reads skipped (too long) or abandoned (stalled)
        self.bytes_in = 0
        self.bytes_out = 0

    def counters(self):
        return {
            "commands": self.commands,
            "timeouts": self.timeouts,
            "dropped": self.dropped,
            "overlong": self.overlong,
            "garbage": self.garbage,
            "urcs": self.urcs,
            "urcs_dropped": self.urcs_dropped,
            "raw_dropped": self.raw_dropped,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }

    def on_urc(self, prefix, handler, raw_len=None):
        # Register handler(line, data) for lines starting with prefix (e.g. "+CEREG:").
        # raw_len(line) -> n, when given, is called at once and the next n bytes are read
        # verbatim and passed as data (Cat1 '+QIURC: "recv",id,len' direct push).
        self._urc_table.append((prefix, handler, raw_len))

    def command(
        self,
        text,
        expect=None,
        timeout_ms=300,
        *,
        finals=1,
        extra_ok=(),
        extra_err=(),
        raw_len=None,
        data=None,
        banner=False,
    ):
        # Send "text\r" and wait for its final result; returns a Reply (never raises on modem
        # errors or timeouts). expect: None (no information lines), a prefix such as "+CSQ:",
        # a tuple of prefixes, or "" for bare lines (anything not final and not a URC).
        # finals: result codes to wait for (AT+A;+B;+C answers several OK on Huawei firmware).
        # data: raw bytes written after the '>' prompt. raw_len(line) -> n: after a reply line,
        # read n raw bytes into Reply.data. banner: the answer ends with the module's boot
        # banner (AT+NRB), whose OK is this command's.
        if self._busy or self._cmd is not None:
            raise RuntimeError("AT command while another runs or from a URC handler")
        if expect is None:
            expect = ()
        elif isinstance(expect, str):
            expect = (expect,)
        self._pump()  # lines already waiting belong to nobody's command
        self.dispatch()
        cmd = _Cmd(text, expect)
        cmd.finals = finals
        cmd.extra_ok = extra_ok
        cmd.extra_err = extra_err
        cmd.raw_len = raw_len
        cmd.data = data
        cmd.banner = banner
        self._cmd = cmd
        deadline = self.clock.ticks_add(self.clock.ticks_ms(), timeout_ms)
        try:
            self._write(text.encode() + b"\r")
            self.commands += 1
            self._run(cmd, deadline)
        finally:
            self._cmd = None
        self.dispatch()
        return Reply(cmd.result, cmd.lines, cmd.cme, cmd.raw, cmd.seen)

    def poll(self, timeout_ms=0):
        # No command running: wait up to timeout_ms for bytes, route them, dispatch the URCs.
        # Returns how many URC handlers ran.
        if self._busy or self._cmd is not None:
            raise RuntimeError("AT poll while a command runs or from a URC handler")
        watchdog.feed()
        if not self._pump() and timeout_ms > 0:
            self.transport.wait(min(timeout_ms, _FEED_SLICE_MS))  # callers loop to their deadline
            self._pump()  # also notices a stalled raw read once its time is up
        return self.dispatch()

    def idle(self, ms):
        # Let ms of clock time pass while routing URCs (the way to wait between retries).
        deadline = self.clock.ticks_add(self.clock.ticks_ms(), ms)
        while True:
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0:
                return
            self.poll(left)

    def wait_until(self, done, ms):
        # Route URCs until done() holds (-> True) or ms of clock time pass (-> False). Returns as
        # soon as a URC handler makes done() true: no sleeping out the rest of the interval.
        deadline = self.clock.ticks_add(self.clock.ticks_ms(), ms)
        while not done():
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0:
                return False
            self.poll(left)
        return True

    def write_raw(self, data):
        # Raw bytes with no line ending (e.g. Ctrl-Z after a payload, or wake-up bytes).
        self._write(data)

    def dispatch(self):
        # Run queued URC handlers in arrival order; returns how many ran.
        ran = 0
        self._busy = True
        try:
            while self._queue:
                handler, line, data = self._queue.pop(0)
                handler(line, data)
                ran += 1
        finally:
            self._busy = False
        return ran

    def pending_urcs(self):
        return len(self._queue)

    # -- the command loop -----------------------------------------------------------------

    def _run(self, cmd, deadline):
        while True:
            self._pump()
            self.dispatch()  # handlers only set state, so the queue can drain mid-command
            if cmd.result is not None:
                return
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0:
                cmd.result = RESULT_TIMEOUT
                self.timeouts += 1
                return
            watchdog.feed()
            self.transport.wait(min(left, _FEED_SLICE_MS))

    def _write(self, data):
        sent = self.transport.write(data) or 0
        while sent < len(data):  # a partial write: the rest, without copying
            n = self.transport.write(memoryview(data)[sent:])
            if not n:
                raise OSError("transport write failed")
            sent += n
        self.bytes_out += sent

    def _pump(self):
        # Read what is available now, at most _PUMP_CHUNKS reads so that a modem that never
        # stops talking cannot keep us from checking the deadline; True when bytes came in.
        got = False
        for _ in range(_PUMP_CHUNKS):
            chunk = self.transport.read(_CHUNK)
            if not chunk:
                break
            got = True
            self.bytes_in += len(chunk)
            self._feed(chunk)
        self._raw_check_stall()
        return got

    def _feed(self, chunk):
        i = 0
        end = len(chunk)
        if self._skip_lf and end:
            self._skip_lf = False
            if chunk[0] == _LF:
                i = 1  # the LF of a CRLF split across reads (matters before a raw read)
        while i < end:
            if self._raw_need:
                i = self._raw_take(chunk, i)
                continue
            j = _next_eol(chunk, i)
            if j < 0:
                self._append(chunk, i, end)
                self._check_prompt()
                return
            self._append(chunk, i, j)
            i = j + 1
            if chunk[j] == _CR:
                if i < end:
                    if chunk[i] == _LF:
                        i += 1
                else:
                    self._skip_lf = True
            self._end_line()

    # -- line assembly (bounded) --------------------------------------------------------

    def _append(self, chunk, i, j):
        buf = self._line
        n = self._n
        cap = len(buf)
        for k in range(i, j):
            b = chunk[k]
            if b < 32 or b > 126:
                self.garbage += 1
            elif n < cap:
                buf[n] = b
                n += 1
            else:
                self._overlong = True
        self._n = n

    def _end_line(self):
        if self._overlong:
            self.overlong += 1
            self._overlong = False
            self._n = 0
            return
        n = self._n
        self._n = 0
        if n == 0:
            return
        line = str(memoryview(self._line)[:n], "ascii").strip()  # one allocation
        if line:
            self._route(line)

    def _check_prompt(self):
        cmd = self._cmd
        if cmd is None or cmd.data is None or self._n == 0 or self._line[0] != _PROMPT:
            return
        self._n = 0  # "> " consumed: write the payload now
        data = cmd.data
        cmd.data = None
        self._write(data)

    # -- routing by priority --------------------------------------------------------------

    def _route(self, line):
        cmd = self._cmd
        if self._banner_at is not None:
            at, self._banner_at = self._banner_at[0], None
            if line == RESULT_OK and not self._banner_done(cmd, at):
                return
        if line in self.banner_end:
            self._banner_at = (cmd,)
        if cmd is not None and cmd.result is None and line in self.abort_on:
            cmd.result = RESULT_ABORT  # then the URC table: the driver sees the banner too
            cmd = None
        if cmd is not None:
            if line == cmd.text and not cmd.lines and not cmd.seen:
                return  # the echo (ATE1): only ever before any reply line or result
            if cmd.data is not None and line[0] == ">":
                self._line[0] = _PROMPT  # a prompt that did come with a line end
                self._n = 1
                self._check_prompt()
                return
            for prefix in cmd.expect:
                if prefix and line.startswith(prefix):
                    self._reply_line(cmd, line)
                    return
            if self._final(cmd, line):
                return
        if self._urc(line):
            return
        if cmd is not None and "" in cmd.expect:
            self._reply_line(cmd, line)
            return
        self.dropped += 1

    def _banner_done(self, cmd, at):
        # A boot banner's own OK came (at: the command running when the banner ended): True
        # when it answers the running command (AT+NRB). A command the reset came under ends
        # with RESULT_ABORT; one written after the banner waits on for its own answer.
        if cmd is not None and cmd.result is None and cmd.banner:
            return True
        if cmd is not None and cmd.result is None and cmd is at:
            cmd.result = RESULT_ABORT  # the module rebooted under it: no answer will come
        else:
            self.dropped += 1
        return False

    def _reply_line(self, cmd, line):
        if len(cmd.lines) < _MAX_REPLY_LINES:
            cmd.lines.append(line)
        else:
            self.dropped += 1
        if cmd.raw_len is not None:
            self._raw_start(cmd.raw_len, line, cmd)

    def _final(self, cmd, line):
        code = final_code(line)
        if code is None:
            if line in cmd.extra_ok:
                code = (RESULT_OK, None)
            elif line in cmd.extra_err:
                code = (RESULT_ERROR, None)
            else:
                return False
        cmd.seen += 1
        if code[0] != RESULT_OK or cmd.seen >= cmd.finals:
            cmd.result, cmd.cme = code
        return True

    def _urc(self, line):
        for prefix, handler, raw_len in self._urc_table:
            if line.startswith(prefix):
                if raw_len is not None:
                    self._raw_start(raw_len, line, (handler, line))
                else:
                    self._enqueue(handler, line, None)
                return True
        return False

    def _enqueue(self, handler, line, data):
        if len(self._queue) >= self._urc_max:
            self.urcs_dropped += 1
            return
        self.urcs += 1
        self._queue.append((handler, line, data))

    # -- counted raw reads ----------------------------------------------------------------

    def _raw_start(self, raw_len, line, owner):
        try:
            n = raw_len(line)
        except (ValueError, IndexError, TypeError):
            self.raw_dropped += 1  # a garbled header: no count to read by
            self._raw_done(owner, None)
            return
        if n is None or n <= 0:
            self._raw_done(owner, b"")
            return
        self._raw_need = n
        self._raw_got = 0
        self._raw_to = owner
        self._raw_buf = bytearray(n) if n <= self._raw_max else None
        self._raw_deadline = self.clock.ticks_add(self.clock.ticks_ms(), _RAW_TIMEOUT_MS)

    def _raw_take(self, chunk, i):
        take = min(self._raw_need, len(chunk) - i)
        if self._raw_buf is not None:
            self._raw_buf[self._raw_got : self._raw_got + take] = chunk[i : i + take]
        self._raw_got += take
        self._raw_need -= take
        if self._raw_need == 0:
            buf = self._raw_buf
            owner = self._raw_to
            self._raw_buf = None
            self._raw_to = None
            if buf is None:
                self.raw_dropped += 1  # longer than raw_max: skipped, owner told with None
                self._raw_done(owner, None)
            else:
                self._raw_done(owner, buf)  # the bytearray itself: no second copy
        return i + take

    def _raw_done(self, owner, data):
        if isinstance(owner, _Cmd):
            owner.raw = data
        else:
            self._enqueue(owner[0], owner[1], data)

    def _raw_check_stall(self):
        if self._raw_need and self.clock.ticks_diff(self.clock.ticks_ms(), self._raw_deadline) > 0:
            owner = self._raw_to
            self._raw_need = 0
            self._raw_buf = None
            self._raw_to = None
            self.raw_dropped += 1  # stalled: the owner is told with data None
            self._raw_done(owner, None)


def _next_eol(chunk, i):
    # Index of the first CR or LF at or after i, or -1.
    cr = chunk.find(b"\r", i)
    lf = chunk.find(b"\n", i)
    if cr < 0:
        return lf
    if lf < 0:
        return cr
    return cr if cr < lf else lf
