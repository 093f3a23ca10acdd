# A real board (ESP32, RP2040): the same small interface as nbkit.hal.unix_board, built from the
# board data file deployed beside main.py (board.json, written by `nbkit build`).
#   board (data), clock(), modem() -> Transport, pin(name), deepsleep(ms), reset_cause()
import json

import machine

from nbkit.hal.clock import Clock
from nbkit.hal.uart import UartTransport

with open("board.json") as _f:
    board = json.load(_f)

_state = {"clock": None, "modem": None}  # type: dict
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


def pin(name):
    number = board["pins"].get(name)
    if number is None:
        raise ValueError("no pin %s on board %s" % (name, board["name"]))
    if name not in _pins:
        _pins[name] = CountingPin(number)
    return _pins[name]


def deepsleep(ms):
    if ms > 0:
        machine.deepsleep(int(ms))


DEEPSLEEP_RESET = machine.DEEPSLEEP_RESET


def reset_cause():
    return machine.reset_cause()
