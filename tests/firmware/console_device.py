# A device serving the provisioning console on a tty, for host tests of `nbkit provision`:
#   micropython console_device.py <fd|path> [failing-check]
# The firmware console (nbkit.console) with the in-memory config and fake modem, self-test and
# event-log providers; prints "ready" on stdout once it is listening.
import sys

from console_kit import MODEM, PIN
from fake_config import MemConfig
from nbkit.console.console import Console
from nbkit.hal.clock import Clock
from nbkit.hal.tty import TtyTransport


def main():
    target = sys.argv[1]
    failing = sys.argv[2] if len(sys.argv) > 2 else None
    transport = TtyTransport(int(target) if target.isdigit() else target)
    config = MemConfig({"device_id": "wm-000042"})
    details = {
        "modem": "AT answered",
        "sim": "READY",
        "attach": "registered, home",
        "uplink": "echo in 2 s",
        "sensor": "pulse input idle",
    }

    def check(name):
        return lambda: (name != failing, details[name] if name != failing else "no answer")

    events = ["boot nbkit", "attach ok after 14 s", "report sent seq=1", "ack seq=1"]
    console = Console(
        transport,
        Clock(),
        config,
        pin=PIN,
        info=lambda: MODEM,
        checks=[(name, check(name)) for name in ("modem", "sim", "attach", "uplink", "sensor")],
        log=lambda n: events[-n:],
    )
    print("ready")
    console.serve()


main()
