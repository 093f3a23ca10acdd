"""The one error type of the CLI: raised anywhere, printed as `nbkit: ...`, exit code 1.

Also the last net of :func:`host_tools.cli.main`: what an unexpected exception becomes
(:func:`describe_unexpected`), and a closed output pipe handled as Unix tools do
(:func:`broken_pipe`).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys


class CommandError(Exception):
    """A failure the user can act on; the message says what went wrong and what to do."""


def describe_unexpected(exc: BaseException) -> str:
    """``what went wrong - what to do`` for an exception no command turned into a CommandError."""
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc} - check the path, its folder and its permissions"
    if isinstance(exc, sqlite3.Error):
        return (
            f"database error: {exc} - check that the file is an nbkit SQLite database, "
            "writable, and not held by another program"
        )
    if isinstance(exc, MemoryError):
        return "out of memory - give a smaller input"
    return (
        f"unexpected {type(exc).__name__}: {exc} - this is a bug in nbkit; please report it "
        "with the command line (NBKIT_TRACEBACK=1 prints the traceback)"
    )


def broken_pipe() -> int:
    """The reader of our output went away (``nbkit readings | head -1``): exit quietly.

    Like a Unix filter killed by SIGPIPE: no message, exit status 128 + SIGPIPE (141). stdout
    is pointed at /dev/null so the interpreter's final flush does not complain again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 128 + signal.SIGPIPE
