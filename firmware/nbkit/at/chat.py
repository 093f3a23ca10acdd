# AT dialogs as data (Zephyr modem_chat style) run over the AT engine (MIT licence).
#
# A script is a name, a tuple of steps, abort matches and a retry cap. A step is
#   (command, expected, timeout_ms)            or   (command, expected, timeout_ms, attempts)
# expected: None = the final OK is enough; "+CGATT:1" = a reply line must start with this text
# (a space after the colon in the reply is tolerated); "" = any bare reply line.
# The engine collects reply lines by the prefix up to and including the colon ("+CGATT:"), so
# "+CGATT:0" is a reply that does not match yet: the step is tried again after retry_ms.
#
# Outcome of a step attempt:
#   final OK and expected matched             -> next step
#   a reply line or final result in `abort`   -> ABORT at once (no retry)
#   the engine's ABORT (the module rebooted)  -> ABORT at once (what it ran went with the reset)
#   ERROR / CME / no match / timeout          -> try again, at most `attempts` times in all
# When the attempts run out: TIMEOUT if the last attempt timed out or never matched, else ABORT.
from nbkit.at.engine import RESULT_ABORT, RESULT_CME, RESULT_CMS, RESULT_OK, RESULT_TIMEOUT

SUCCESS = "SUCCESS"
ABORT = "ABORT"
TIMEOUT = "TIMEOUT"


class Script:
    # name: for logs; steps: tuple of step tuples; abort: line prefixes that end the script
    # ("ERROR" and "+CME ERROR" abort at the first error); attempts: default tries per step;
    # retry_ms: pause between tries (URCs are still routed meanwhile).

    def __init__(self, name, steps, abort=(), attempts=1, retry_ms=1000):
        self.name = name
        self.steps = steps
        self.abort = abort
        self.attempts = attempts
        self.retry_ms = retry_ms


class Outcome:
    # status: SUCCESS / ABORT / TIMEOUT; step: index of the last step run; reply: its Reply;
    # commands: AT commands written by this run.

    def __init__(self, status, step, reply, commands):
        self.status = status
        self.step = step
        self.reply = reply
        self.commands = commands

    @property
    def ok(self):
        return self.status == SUCCESS

    def __repr__(self):
        return "<Outcome %s step=%d reply=%r commands=%d>" % (
            self.status,
            self.step,
            self.reply,
            self.commands,
        )


def run(engine, script):
    # Run the script's steps in order; returns an Outcome.
    start = engine.commands
    reply = None
    for index, step in enumerate(script.steps):
        status, reply = _step(engine, script, step)
        if status != SUCCESS:
            return Outcome(status, index, reply, engine.commands - start)
    return Outcome(SUCCESS, len(script.steps) - 1, reply, engine.commands - start)


def run_each(engine, script):
    # Run every step even when some fail (optional settings); returns the failed commands.
    failed = []
    for step in script.steps:
        status, _ = _step(engine, script, step)
        if status != SUCCESS:
            failed.append(step[0])
    return failed


def matches(line, expected):
    # True when line starts with expected, tolerating one space after the colon.
    if line.startswith(expected):
        return True
    colon = line.find(": ")
    return colon >= 0 and (line[: colon + 1] + line[colon + 2 :]).startswith(expected)


def _step(engine, script, step):
    command, expected, timeout_ms = step[0], step[1], step[2]
    attempts = step[3] if len(step) > 3 else script.attempts
    prefix = _prefix(expected)
    status = TIMEOUT
    reply = None
    for attempt in range(attempts):
        if attempt:
            engine.idle(script.retry_ms)
        reply = engine.command(command, prefix, timeout_ms)
        if reply.result == RESULT_ABORT or _aborted(reply, script.abort):
            return ABORT, reply
        if reply.result == RESULT_OK and _found(reply, expected):
            return SUCCESS, reply
        status = ABORT if reply.result not in (RESULT_OK, RESULT_TIMEOUT) else TIMEOUT
    return status, reply


def _prefix(expected):
    # What the engine should collect for this step: "+CGATT:1" -> "+CGATT:".
    if expected is None:
        return None
    colon = expected.find(":")
    return expected[: colon + 1] if colon >= 0 else expected


def _found(reply, expected):
    if expected is None:
        return True
    for line in reply.lines:
        if matches(line, expected):
            return True
    return False


def _aborted(reply, abort):
    for pattern in abort:
        if _final_text(reply).startswith(pattern):
            return True
        for line in reply.lines:
            if line.startswith(pattern):
                return True
    return False


def _final_text(reply):
    if reply.result == RESULT_CME:
        return "+CME ERROR: %s" % reply.cme
    if reply.result == RESULT_CMS:
        return "+CMS ERROR: %s" % reply.cme
    return reply.result
