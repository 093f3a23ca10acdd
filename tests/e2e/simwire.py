# The wiring a MicroPython test script needs to run as a board under a time master
# (host_tools/simclock), as nbkit/hal/unix_boot.py wires the virtual board's:
#   clock = sim_clock("HOST:PORT", "m0.w2")     participant NAME (meter m0, wake 2)
#   tty = counted_tty(path, clock, "m0")        the modem UART, its bytes counted both ways
#   ...
#   leave(clock, "m0")                          the last act: "m0.exit>" counted and reported,
#                                               so time waits until the host saw the process
#                                               end; prints "left" (the host counts "m0.exit<"
#                                               only then: a script that crashed never left)
from nbkit.hal.simclock import SimClock
from nbkit.hal.tty import TtyTransport


def sim_clock(master, name):
    host, port = master.rsplit(":", 1)
    return SimClock((host, int(port)), name)


def counted_tty(path, clock, chan, keep=False):
    # Bytes counted "<chan>.uart.up>" written, "<chan>.uart.dn<" read; what the modem sends
    # while the script waits for something else is taken in (a UART's FIFO). keep: what the
    # line holds already stays to be read (nothing counted sent may be dropped unread).
    tty = TtyTransport(path, keep=keep)
    tty.sim = clock
    tty.tx_key = chan + ".uart.up>"
    tty.rx_key = chan + ".uart.dn<"
    clock.count(tty.rx_key, 0)  # declared: the modem's bytes are awaited
    clock.uarts.append(tty)
    return tty


def leave(clock, chan):
    clock.count(chan + ".exit>", 1)  # the host counts it when it sees this process end
    print("left")
    clock.flush()
