"""The one error type of the CLI: raised anywhere, printed as `nbkit: ...`, exit code 1."""


class CommandError(Exception):
    """A failure the user can act on; the message says what went wrong and what to do."""
