# The service window's edges, shared by app.device (which opens the window), app.service (which
# serves it) and app.lockdown (which gives the REPL back after it), so that none of them imports
# another for them: a wake that opens no window never loads app.service.
from micropython import const

_DEEPSLEEP_RESET = const(4)  # machine.DEEPSLEEP_RESET (ESP32, unix_board)
_SERVICE_BUTTON = const("button")  # the board data's pin whose press opens the window


class OpenRepl(BaseException):
    # Raised by the service window (nbkit.app.service) for `repl confirm` in an unlocked
    # session. A BaseException: the application's `except Exception` handlers let it through
    # to nbkit.app.lockdown.run.
    pass


def opens_window(board, profile=None):
    # Whether this boot opens the service window (nbkit.app.service): power-on, hard or soft
    # reset, or a deep-sleep wake by the board's button (the meter's service button): yes. A
    # deep-sleep wake by the RTC timer or by an alarm's pin (a magnet at the meter's tamper
    # sensor, the smoke chamber): no, the alarm goes first (and waiting on the UART at every
    # wake costs energy; app.device then does not even import the service module). Nor the
    # button of a device whose profile (nbkit.profiles, its pins) uses it: the smoke alarm's
    # test/hush button is the user's, and a hush does not wait for a console window.
    if board.reset_cause() != _DEEPSLEEP_RESET:
        return True
    reason = getattr(board, "wake_reason", None)
    if reason is None or reason() != _SERVICE_BUTTON:
        return False
    return profile is None or _SERVICE_BUTTON not in _pins(profile)


def _pins(profile):
    from nbkit import profiles

    try:
        return profiles.get(profile)[4]
    except ValueError:  # an unknown profile: the config check names it
        return ()
