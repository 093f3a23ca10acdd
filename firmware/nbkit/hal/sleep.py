# MCU sleep behind one tiny interface, so the scheduler's wake time is applied the same way on a
# board and on the virtual board:  deepsleep(ms)  lightsleep(ms).
# A non-positive duration returns at once (machine.deepsleep(0) would sleep forever on some ports).


class MachineSleep:
    # A board: machine.deepsleep resets the MCU on wake (RAM lost: persist scheduler.state());
    # machine.lightsleep returns with RAM kept.
    def __init__(self, machine_module=None):
        if machine_module is None:
            import machine as machine_module  # type: ignore[no-redef]
        self.machine = machine_module

    def deepsleep(self, ms):
        if ms > 0:
            self.machine.deepsleep(int(ms))

    def lightsleep(self, ms):
        if ms > 0:
            self.machine.lightsleep(int(ms))


class ClockSleep:
    # Virtual time (tests, or a board without low-power modes): both sleeps advance the Clock
    # (ManualClock.sleep_ms moves virtual time). Counts the sleeps for inspection.
    def __init__(self, clock):
        self.clock = clock
        self.deep_ms = 0
        self.light_ms = 0

    def deepsleep(self, ms):
        if ms > 0:
            self.deep_ms += ms
            self.clock.sleep_ms(ms)

    def lightsleep(self, ms):
        if ms > 0:
            self.light_ms += ms
            self.clock.sleep_ms(ms)
