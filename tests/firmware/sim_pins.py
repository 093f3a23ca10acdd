# A GPIO input for tests on the unix port (no GPIO there): machine.Pin's value()/irq() subset.
# set() changes the level and calls the IRQ handler on a matching edge, as the hardware would.


class SimPin:
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, level=1):
        self.level = level
        self.handler = None
        self.trigger = 0

    def value(self, v=None):
        if v is None:
            return self.level
        self.set(v)
        return None

    def irq(self, handler=None, trigger=3):
        self.handler = handler
        self.trigger = trigger

    def set(self, level):
        if level == self.level:
            return
        self.level = level
        edge = self.IRQ_RISING if level else self.IRQ_FALLING
        if self.handler is not None and self.trigger & edge:
            self.handler(self)


class SimADC:
    # machine.ADC's read_u16() subset, value set by the test
    def __init__(self, value=8000):
        self.value = value

    def read_u16(self):
        return self.value
