# Bringing a modem up for a link (shared by the TCP, MQTT and CoAP-platform links) (MIT
# licence): wake it without re-attaching when it is still registered, attach otherwise.


def up(modem, attach_timeout_ms):
    # -> True when the modem can carry traffic. resume() is optional on a modem profile: a
    # profile without it is attached (attach() returns at once when already online).
    resume = getattr(modem, "resume", None)
    if resume is not None and resume():
        return True
    return modem.attach(attach_timeout_ms)


def sleep(modem):
    # Let the modem sleep after the link is released (Cat1: AT+QSCLK=1 + DTR); profiles that
    # sleep by themselves (BC95 PSM) have no sleep(). Never raises: the report is over anyway.
    fn = getattr(modem, "sleep", None)
    if fn is None:
        return
    try:
        fn()
    except Exception as exc:  # the module may have gone away; the next up() finds out
        modem.last_error = str(exc)
