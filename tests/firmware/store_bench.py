# The provisioning console on the REAL config store: nbkit.console.store_adapter over a
# littlefs2 image in RAM (nbkit.hal.flash, with its power-cut hook), scripted transport and
# ManualClock from console_kit. The image survives a "reboot": mount it through a new device.
import os

from console_kit import ScriptedTransport
from nbkit.app.service_parts import LoggedStore, ServiceConsole
from nbkit.console.store_adapter import Attempts
from nbkit.hal import flash
from nbkit.hal.clock import ManualClock
from nbkit.store import config
from nbkit.store.eventlog import EventLog

MOUNT = "/flash"
PATH = MOUNT + "/config.json"
PIN = "482913"
KEY_HEX = "00112233445566778899aabbccddeeff"
FACTORY = {
    "device_id": 42,
    "key": KEY_HEX,
    "server_host": "10.0.0.1",
    "server_port": 5683,
    "service_pin": PIN,
}


def new_image(cfg=FACTORY):
    # -> a formatted littlefs image holding cfg (None: no config file)
    image = flash.new_image(512, 64)
    bdev = flash.RamBlockDevice(image, 512)
    flash.format(bdev)
    flash.mount(bdev, MOUNT, create=False)
    if cfg is not None:
        config.save(PATH, cfg)
    flash.umount(MOUNT)
    return image


def mount(image):
    bdev = flash.RamBlockDevice(image, 512)
    flash.mount(bdev, MOUNT, create=False)
    return bdev


def umount():
    flash.umount(MOUNT)


def stored():
    # -> the config file as the device would load it, or the error
    try:
        return config.load(PATH)
    except config.ConfigError as exc:
        return str(exc)


def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


class StoreBench:
    # A console on the mounted image (mount first).
    def __init__(self, checks=(), info=None):
        self.clock = ManualClock()
        self.transport = ScriptedTransport(self.clock)
        self.events = EventLog(MOUNT + "/events.log", lines=8, clock=self.clock)
        self.store = LoggedStore(PATH, self.events)
        self.console = ServiceConsole(
            self.transport,
            self.clock,
            self.store,
            pin=self.store.pin(),
            info=info,
            checks=list(checks),
            log=self.events.tail,
            attempts=Attempts(MOUNT + "/service.attempts"),
        )

    def feed(self, data):
        self.transport.rx.extend(data)
        for _ in range(10000):
            if not self.console.poll(0):
                break
        out = bytes(self.transport.tx).decode()
        self.transport.tx = bytearray()
        return out.split("\r\n")[:-1] if out else []

    def send(self, line):
        return self.feed(line.encode() + b"\r\n")

    def unlock(self):
        assert self.send("unlock " + PIN) == ["OK"]
