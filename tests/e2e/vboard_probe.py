# Test firmware for the virtual board (`nbkit vboard --main tests/e2e/vboard_probe.py`): one
# command per console line, one answer line ("= ..." or "! error") so tests drive the hardware.
import gc
import os
import select
import sys

from nbkit.hal import unix_board as hw

clock = hw.clock()
events = []
phases = []  # what the board was doing when each edge's handler ran
doing = ["idle"]


def on_edge(p):
    events.append(p.falling)
    phases.append(doing[0])


def at(cmd):
    m = hw.modem()
    doing[0] = "at"
    m.write(cmd.encode() + b"\r\n")
    reply = b""
    start = clock.ticks_ms()
    while b"OK\r\n" not in reply and clock.ticks_diff(clock.ticks_ms(), start) < 2000:
        if m.wait(100):
            reply += m.read(64)
    doing[0] = "idle"
    return repr(reply)


def sleep(ms):
    t0 = clock.virtual_s()
    clock.sleep_ms(ms)
    return "%.3f" % (clock.virtual_s() - t0)


def answer(w):
    if w[0] == "info":
        return "%s %d %s" % (hw.board["name"], hw.reset_cause(), hw.wake_reason())
    if w[0] == "time":
        return "%d" % clock.time()
    if w[0] == "sleep":
        return sleep(int(w[1]))
    if w[0] == "put":
        with open(w[1], "w") as f:
            f.write(w[2])
        return "ok"
    if w[0] == "cat":
        with open(w[1]) as f:
            return f.read()
    if w[0] == "ls":
        return " ".join(sorted(os.listdir(w[1] if len(w) > 1 else "/")))
    if w[0] == "at":
        return at(w[1])
    if w[0] == "irq":
        p = hw.pin(w[1])
        p.irq(on_edge, p.IRQ_FALLING)
        return "ok"
    if w[0] == "pin":
        p = hw.pin(w[1])
        return "%d %d %d" % (p.value(), p.falling, p.rising)
    if w[0] == "fill":  # fill NAME SIZE CHAR: a file of SIZE bytes of CHAR, in 256-byte writes
        chunk = w[3].encode() * 256
        with open(w[1], "wb") as f:
            for i in range(0, int(w[2]), 256):
                f.write(chunk[: min(256, int(w[2]) - i)])
        return "ok"
    if w[0] == "check":  # check NAME: its size and the set of bytes in it
        with open(w[1], "rb") as f:
            data = f.read()
        return "%d %s" % (len(data), "".join(sorted(set(chr(b) for b in data))))
    if w[0] == "kbd":
        hw.kbd_intr(int(w[1]))
        return "ok"
    if w[0] == "echo":
        return repr(" ".join(w[1:]))
    if w[0] == "phases":
        return " ".join(phases)
    if w[0] == "events":
        hw.poll(int(w[1]))
        return " ".join(str(e) for e in events)
    if w[0] == "deepsleep":
        hw.deepsleep(int(w[1]), {w[2]: 0} if len(w) > 2 else None)
    if w[0] == "where":  # where MODULE: the file it was imported from
        __import__(w[1])
        return sys.modules[w[1]].__file__
    if w[0] == "origin":  # origin MODULE: the file it was imported from, or "built-in"
        return getattr(__import__(w[1]), "__file__", "built-in")
    if w[0] == "copy":  # copy SRC DST: a file, byte for byte
        with open(w[1], "rb") as f:
            data = f.read()
        with open(w[2], "wb") as f:
            f.write(data)
        return "%d" % len(data)
    if w[0] == "cost":  # cost MODULE: the heap its import took, with the garbage collected
        gc.collect()
        before = gc.mem_alloc()
        __import__(w[1])
        gc.collect()
        return "%d" % (gc.mem_alloc() - before)
    if w[0] == "drop":  # drop MODULE: out of sys.modules and its package (its names stay interned)
        del sys.modules[w[1]]
        parent, _, child = w[1].rpartition(".")
        if parent in sys.modules and child in sys.modules[parent].__dict__:
            delattr(sys.modules[parent], child)
        gc.collect()
        return "ok"
    if w[0] == "exit":
        sys.exit()
    raise ValueError("unknown command")


def next_line():
    # The next console line. Meanwhile the host's control datagrams are served (a power cut's
    # `cut` is answered at once, as firmware waiting on its UART would); under a time master
    # the probe is busy while it waits for a command, so device time stands still until one
    # comes and what the test does between two commands happens at one instant.
    ctl = hw._state["ctl"]  # the control channel: pin events and the host's requests
    p = select.poll()
    p.register(sys.stdin, select.POLLIN)
    p.register(ctl, select.POLLIN)
    while True:
        for obj, _ in p.poll(-1):
            if obj is ctl:
                hw.poll(0)  # at the current instant: no wait, no report to the master
            else:
                return sys.stdin.readline()


print("PROBE READY")
while True:
    line = next_line()
    words = line.split()
    if not words:
        continue
    try:
        print("=", answer(words))
    except Exception as e:  # noqa: BLE001 - reported to the test
        print("!", repr(e))
