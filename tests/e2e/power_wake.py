# MicroPython side of test_power_scenarios: ONE wake of a meter (a new process per wake, as after
# an MCU deep sleep) against `nbkit emulate` on its pty, in virtual time shared with it.
#   micropython power_wake.py PTY W,E,S UDP_PORT FALLBACK REPORT_S ALIGN_S
# Does what the application does around a report: resume() or attach(), read the GRANTED timers,
# give them to the scheduler, send one reading with release assistance (0x400: an ack is
# expected), read the ack, close, then apply the power policy (cfun0 -> AT+CFUN=0) and "sleep".
import sys

from nbkit.app import power
from nbkit.app.scheduler import Scheduler, Xorshift32
from nbkit.at.engine import Engine
from nbkit.hal.tty import TtyTransport
from nbkit.hal.vclock import VClock
from nbkit.lte import rai
from nbkit.modem.bc95 import Bc95

REQUEST = (70 * 3600, 10)  # ask for T3412 70 h, T3324 10 s


def out(*args):
    print("wake:", *args)


def main(argv):
    path, clock_arg, fallback = argv[1], argv[2], argv[4]
    udp_port, report_s, align_s = int(argv[3]), int(argv[5]), int(argv[6])
    wall, epoch, scale = clock_arg.split(",")
    clock = VClock(float(wall), int(float(epoch)), float(scale))
    engine = Engine(TtyTransport(path), clock)
    modem = Bc95(engine, clock, model="bc28", psm=REQUEST)
    resumed = modem.resume()
    out("resumed", resumed, modem.last_commands)
    if not resumed:
        out("attached", modem.attach(60000), modem.last_commands, modem.last_error)
    granted = modem.granted()
    out("granted", granted[0], granted[1], granted[2])
    sched = Scheduler(clock, report_s, align_s=align_s, rng=Xorshift32(7))
    sched.granted(*granted)
    at, reasons = sched.next_wake()
    out("sched", sched.psm, sched.active_s, sched.tau_s, at - clock.time(), ",".join(reasons))
    start = engine.commands
    sock = modem.open_udp()
    flag = rai.nsostf_flag(True, True)
    modem.sendto(sock, "127.0.0.1", udp_port, b"reading:1234", flags=flag)
    replies = modem.recv(sock, 5000)
    modem.close(sock)
    out("report", engine.commands - start, [d.data for d in replies])
    action = power.after_report(granted[0], fallback, report_s)
    if action == power.ACTION_CFUN0:
        out("power_down", modem.power_down())
    out("action", action)


main(sys.argv)
