# A real board (ESP32, RP2040): the same small interface as nbkit.hal.unix_board, built from the
# board data file deployed beside main.py (board.json, written by `nbkit build`).
#   board (data), clock(), modem() -> Transport, pin(name), deepsleep(ms), reset_cause(),
#   watchdog(timeout_ms) -> machine.WDT
import json

import machine
from micropython import const

from nbkit.hal.clock import Clock
from nbkit.hal.uart import UartTransport

with open("board.json") as _f:
    board = json.load(_f)

_state = {"clock": None, "modem": None}  # type: dict
_ANALOG_POLL_MS = const(10000)
_WATCHDOG_MS = const(60000)  # every wait feeds it (the longest single wait is 1 s)
_pins = {}  # type: dict


class CountingPin:
    # An input whose falling edges are counted by an IRQ (the handler only adds to an int).
    # machine.deepsleep stops the CPU: pulses during deep sleep need the port's low-power
    # counter (ESP32 ULP/PCNT); with plain IRQ counting use lightsleep between readings.
    def __init__(self, number):
        self.pin = machine.Pin(number, machine.Pin.IN, machine.Pin.PULL_UP)
        self.falling = 0
        self.pin.irq(self._edge, machine.Pin.IRQ_FALLING)

    def _edge(self, _pin):
        self.falling += 1

    def value(self):
        return self.pin.value()

    def irq(self, handler=None, trigger=machine.Pin.IRQ_FALLING):
        # the app's handler is called after the count (both only touch preallocated ints)
        def edge(p):
            self.falling += 1
            if handler is not None:
                handler(p)

        self.pin.irq(edge, trigger)


def clock():
    if _state["clock"] is None:
        _state["clock"] = Clock()
    return _state["clock"]


def modem():
    if _state["modem"] is None:
        u = board["modem"]["uart"]
        uart = machine.UART(
            u["id"], baudrate=u["baud"], tx=machine.Pin(u["tx"]), rx=machine.Pin(u["rx"])
        )
        _state["modem"] = UartTransport(uart)
    return _state["modem"]


def meterbus():
    # The meter-bus UART (CJ/T 188 / DL/T 645, typically 2400 8E1), or None on a board without.
    mb = board.get("meterbus")
    if mb is None:
        return None
    if _state.get("meterbus") is None:
        parity = {"none": None, "even": 0, "odd": 1}[mb["parity"]]
        uart = machine.UART(
            mb["uart"],
            baudrate=mb["baud"],
            bits=8,
            parity=parity,
            stop=1,
            tx=machine.Pin(mb["tx"]),
            rx=machine.Pin(mb["rx"]),
        )
        _state["meterbus"] = UartTransport(uart)
    return _state["meterbus"]


def pin(name):
    number = board["pins"].get(name)
    if number is None:
        raise ValueError("no pin %s on board %s" % (name, board["name"]))
    if name not in _pins:
        if name.endswith("_adc"):  # analog inputs (smoke chamber, battery): read_u16()
            _pins[name] = machine.ADC(machine.Pin(number))
        else:
            _pins[name] = CountingPin(number)
    return _pins[name]


def deepsleep(ms, wake_pins=None):
    # wake_pins {name: level}: on an ESP32 the first pin with a digital level and an RTC-capable
    # GPIO ends the sleep (ext0); ports without pin wake-up sleep out the timer. An analog
    # threshold (level > 1, the smoke chamber) cannot wake these ports: the sleep is capped at
    # board data analog_poll_ms (default 10 s) so the app samples the input itself at each wake,
    # as a smoke alarm's MCU pulses its IR LED every ~10 s.
    if wake_pins:
        if [level for level in wake_pins.values() if level > 1]:
            ms = min(ms, board.get("analog_poll_ms", _ANALOG_POLL_MS))
        try:
            import esp32  # type: ignore[import-not-found]

            for name, level in wake_pins.items():
                number = board["pins"].get(name)
                if number is not None and level in (0, 1):
                    esp32.wake_on_ext0(machine.Pin(number), level == 1)
                    break
        except (ImportError, ValueError):
            pass
    if ms > 0:
        machine.deepsleep(int(ms))


DEEPSLEEP_RESET = machine.DEEPSLEEP_RESET


def reset_cause():
    return machine.reset_cause()


def kbd_intr(char):
    # Ctrl-C on the console: -1 a plain byte (production console lock), 3 KeyboardInterrupt.
    import micropython

    micropython.kbd_intr(char)


def reset():
    machine.reset()


def watchdog(timeout_ms=None):
    # machine.WDT: started once, never stopped (board data watchdog_ms, default 60 s)
    return machine.WDT(timeout=int(timeout_ms or _WATCHDOG_MS))
