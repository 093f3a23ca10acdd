# Modem lifecycle: an explicit state machine fed by URCs and command results (MIT licence).
#
#   off --power-on--> booting --booted--> configuring --configured--> searching
#   searching --registered--> registered --rrc-connected--> connected <--rrc-idle/connected--> idle
#   idle --psm-enter--> psm --psm-exit / rrc-connected--> idle / connected
#   any --reboot-banner--> rebooted (unless booting: our own reboot) --booted--> configuring
#   any --power-on--> booting (the driver boots or reboots the module)
#   any --deregistered--> searching (once configured); any --power-off--> off
#   failed: counted; past max_failures the state becomes error (left by power-on only).
# +CSCON is remembered in any state: registering while RRC is connected goes on to connected.
# Subscribers get (old, new, event) on a change of state only; an event that changes nothing
# (a repeated +CEREG:1, +CSCON:0 while idle) is not delivered.

OFF = "off"
BOOTING = "booting"
CONFIGURING = "configuring"
SEARCHING = "searching"
REGISTERED = "registered"
CONNECTED = "connected"
IDLE = "idle"
PSM = "psm"
ERROR = "error"
REBOOTED = "rebooted"

EV_POWER_ON = "power-on"  # the driver starts (or restarts) bringing the modem up
EV_BOOTED = "booted"  # AT answered OK after boot
EV_BANNER = "reboot-banner"  # REBOOT_CAUSE_* line seen
EV_CONFIGURED = "configured"  # configuration script succeeded, attach requested
EV_REGISTERED = "registered"  # +CEREG stat 1 (home) or 5 (roaming)
EV_SEARCHING = "searching"  # +CEREG stat 2
EV_DEREGISTERED = "deregistered"  # +CEREG stat 0, 3 (denied) or 4
EV_RRC_CONNECTED = "rrc-connected"  # +CSCON:1
EV_RRC_IDLE = "rrc-idle"  # +CSCON:0
EV_PSM_ENTER = "psm-enter"  # +NPSMR:1
EV_PSM_EXIT = "psm-exit"  # +NPSMR:0
EV_FAILED = "failed"  # a script or command failed
EV_POWER_OFF = "power-off"

_ONLINE = (REGISTERED, CONNECTED, IDLE, PSM)

# (state, event) -> next state; pairs not listed leave the state as it is.
_TABLE = {
    (REBOOTED, EV_BOOTED): CONFIGURING,
    (BOOTING, EV_BOOTED): CONFIGURING,
    (CONFIGURING, EV_CONFIGURED): SEARCHING,
    (CONFIGURING, EV_REGISTERED): REGISTERED,
    (SEARCHING, EV_REGISTERED): REGISTERED,
    (REGISTERED, EV_RRC_CONNECTED): CONNECTED,
    (REGISTERED, EV_RRC_IDLE): IDLE,
    (REGISTERED, EV_PSM_ENTER): PSM,
    (CONNECTED, EV_RRC_IDLE): IDLE,
    (CONNECTED, EV_PSM_ENTER): PSM,
    (IDLE, EV_RRC_CONNECTED): CONNECTED,
    (IDLE, EV_PSM_ENTER): PSM,
    (PSM, EV_PSM_EXIT): IDLE,
    (PSM, EV_RRC_CONNECTED): CONNECTED,
}


class Lifecycle:
    def __init__(self, max_failures=3):
        self.state = OFF
        self.max_failures = max_failures
        self.failures = 0  # failures since the last registration
        self.changes = 0  # state changes so far
        self.rrc_connected = False  # last +CSCON seen, in whatever state it came
        self._subscribers = []

    def subscribe(self, callback):
        # callback(old_state, new_state, event), called on every change of state.
        self._subscribers.append(callback)

    @property
    def online(self):
        return self.state in _ONLINE

    def event(self, name):
        # Feed one event; returns the state after it.
        if name in (EV_RRC_CONNECTED, EV_RRC_IDLE):
            self.rrc_connected = name == EV_RRC_CONNECTED
        new = self._next(name)
        if new != self.state:
            self._enter(new, name)
            if new == REGISTERED and self.rrc_connected:
                # +CSCON:1 came while still searching: the link is up already.
                self._enter(CONNECTED, EV_RRC_CONNECTED)
        return self.state

    def _enter(self, new, name):
        old = self.state
        self.state = new
        self.changes += 1
        if new == REGISTERED:
            self.failures = 0
        for callback in self._subscribers:
            callback(old, new, name)

    def fail(self):
        # Count one failure; True while another retry is allowed.
        self.failures += 1
        self.event(EV_FAILED)
        return self.state != ERROR

    def _next(self, name):
        state = self.state
        if name == EV_POWER_OFF:
            return OFF
        if name == EV_POWER_ON:
            return BOOTING
        if name == EV_FAILED:
            return ERROR if self.failures > self.max_failures else state
        if name == EV_BANNER:
            return state if state in (BOOTING, OFF) else REBOOTED
        if name in (EV_DEREGISTERED, EV_SEARCHING) and state in _ONLINE:
            return SEARCHING
        return _TABLE.get((state, name), state)


# +CEREG / +CGREG status (a parsed registration with .registered and .stat) -> the event.
def registration_event(reg):
    if reg.registered:
        return EV_REGISTERED
    if reg.stat == 2:  # searching
        return EV_SEARCHING
    return EV_DEREGISTERED
