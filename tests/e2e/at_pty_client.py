# MicroPython side of test_at_over_pty: the BC95 driver over a real pty (TtyTransport).
import sys

from nbkit.at.engine import Engine
from nbkit.hal.clock import Clock
from nbkit.hal.tty import TtyTransport
from nbkit.modem.bc95 import Bc95


def main(path):
    clock = Clock()
    tty = TtyTransport(path, baud=9600)
    engine = Engine(tty, clock)
    modem = Bc95(engine, clock)
    states = []
    modem.lifecycle.subscribe(lambda old, new, ev: states.append(new))
    print("attach", modem.attach(20000), modem.last_commands)
    sock = modem.open_udp()
    print("sent", modem.sendto(sock, "127.0.0.1", 9999, b"hi\r\nOK"))
    got = modem.recv(sock, 5000)
    print("recv", [dg.data for dg in got])
    print("states", " ".join(states))
    print("counters", engine.counters()["timeouts"], engine.counters()["garbage"])
    print("hangup", engine.command("AT", None, 300).result, tty.hangups > 0)
    tty.close()


main(sys.argv[1])
