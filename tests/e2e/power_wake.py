# MicroPython side of test_power_scenarios: ONE wake of a meter (a new process per wake, as after
# an MCU deep sleep) against `nbkit emulate` on its pty, in virtual time shared with it.
#   micropython power_wake.py PTY HOST:PORT NAME UDP_PORT FALLBACK REPORT_S ALIGN_S
# HOST:PORT is the time master (host_tools/simclock), NAME this wake's participant ("m0.w2":
# meter m0, wake 2; the host announced it with `join`). The UART counts its bytes on the
# meter's channel ("m0.uart.up>" written, "m0.uart.dn<" read) as the virtual board's does
# (nbkit/hal/unix_boot.py _counted). The wake's last act counts "m0.exit>" and reports: time
# then waits until the host has seen the process end (and counted "m0.exit<").
# Does what the application does around a report: resume() or attach(), read the GRANTED timers,
# give them to the scheduler, send one reading with release assistance (0x400: an ack is
# expected), read the ack, close, then apply the power policy (cfun0 -> AT+CFUN=0) and "sleep".
import sys

from nbkit.app import power
from nbkit.app.scheduler import Scheduler, Xorshift32
from nbkit.at.engine import Engine
from nbkit.lte import rai
from nbkit.modem.bc95 import Bc95
from simwire import counted_tty, leave, sim_clock

REQUEST = (70 * 3600, 10)  # ask for T3412 70 h, T3324 10 s
ATTACH_MS = 120000  # the driver's default: the modelled attach takes 30/45/66 s at CE0/1/2
ACK_WAIT_MS = 10000  # as the application's (nbkit/app/uplink.py): CE2's RRC setup + air time
# alone take 9.3 s before the datagram leaves the modem


def out(*args):
    print("wake:", *args)


def main(argv):
    path, fallback = argv[1], argv[5]
    name = argv[3]
    chan = name.split(".")[0]
    udp_port, report_s, align_s = int(argv[4]), int(argv[6]), int(argv[7])
    clock = sim_clock(argv[2], name)
    engine = Engine(counted_tty(path, clock, chan), clock)
    modem = Bc95(engine, clock, model="bc28", psm=REQUEST)
    resumed = modem.resume()
    out("resumed", resumed, modem.last_commands)
    if not resumed:
        out("attached", modem.attach(ATTACH_MS), modem.last_commands, modem.last_error)
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
    replies = modem.recv(sock, ACK_WAIT_MS)
    modem.close(sock)
    out("report", engine.commands - start, [d.data for d in replies])
    action = power.after_report(granted[0], fallback, report_s)
    if action == power.ACTION_CFUN0:
        out("power_down", modem.power_down())
    out("action", action)
    leave(clock, chan)


main(sys.argv)
