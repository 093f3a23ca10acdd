# One event raised by a sensor: a name (the lead maps names to payload codes in
# nbkit.proto.codes), a value (int, tuple or None) and `urgent` for alarm-class events that
# bypass the report schedule (the app wakes the modem and sends them with release-after-reply,
# retried until acked).


class Event:
    def __init__(self, name, value=None, urgent=False, t_ms=0):
        self.name = name
        self.value = value
        self.urgent = urgent
        self.t_ms = t_ms

    def __repr__(self):
        return "<event %s%s %r @%d>" % (
            self.name,
            " URGENT" if self.urgent else "",
            self.value,
            self.t_ms,
        )
