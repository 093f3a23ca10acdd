# MicroPython entry script for end-to-end tests of the transports (TCP on Cat1, MQTT, CoAP
# platform, UDP): the real firmware path from the durable queue to the modem's pty.
#
#   micropython tests/e2e/cat1_client.py PTY MODEM TRANSPORT HOST PORT DEVICE_ID KEY_HEX
#                                        [READINGS [QUEUE_DIR [ROUNDS [PER_FRAME
#                                        [MASTER NAME]]]]]
#   MODEM      bc95 | bc28 | ec200 | ec600 | bc26   (nbkit.app.links.make_modem)
#   TRANSPORT  udp | tcp | mqtt | coap                (nbkit.app.links.make_link)
#   HOST PORT  collector (udp/tcp), broker (mqtt) or platform (coap); DEVICE_ID decimal
#   READINGS   readings to queue when QUEUE_DIR holds none (default 5); QUEUE_DIR default
#              /tmp/nbkit-e2e-<DEVICE_ID> (kept: a second run continues where one stopped)
#   ROUNDS     reports tried until the queue is empty (default 5; 1 s of modem idle between)
#   PER_FRAME  records per uplink frame (default 2, so 5 readings take 3 uplinks)
#   MASTER NAME  run as participant NAME ("m0.w1") of the time master at MASTER (HOST:PORT,
#              host_tools/simclock; tests/e2e/simwire.py); without them, on the wall clock
# Run with MICROPYPATH=firmware (tests.micropython_runner.run_micropython does that).
#
# stdout, one event per line (space-separated; scripts match on the first word):
#   queued <n> <first_seq>             readings appended (only when the queue was empty)
#   up <round> True|False [<error>]    link.up() result of that round
#   sent <first_seq> <records> <bytes> one uplink frame handed to the link
#   ack <first> <last>                 an authenticated ack; the queue dropped first..last
#   ackbad <reason>                    a reply that is not a valid ack for us (ignored)
#   error <text>                       LinkError / ModemError of this round
#   pending <n>                        records left after the round
#   done <acked_records> <pending>     at the end; exit status 0 when pending is 0, else 1
import sys
from binascii import unhexlify

import simwire
from nbkit.app.links import make_link, make_modem
from nbkit.at.engine import Engine
from nbkit.hal.clock import Clock
from nbkit.hal.tty import TtyTransport
from nbkit.proto import codes, frame
from nbkit.store import config
from nbkit.store.queue import Queue

_ACK_WAIT_MS = 10000
_T0 = 1767225600  # 2026-01-01 UTC: the readings' timestamps


def _args(argv):
    if len(argv) < 8:
        print(
            "usage: cat1_client.py PTY MODEM TRANSPORT HOST PORT DEVICE_ID KEY_HEX "
            "[READINGS [QUEUE_DIR [ROUNDS [PER_FRAME [MASTER NAME]]]]]"
        )
        sys.exit(2)
    opt = argv[8:] + [None] * 6
    cfg = config.validate(
        {
            "device_id": int(argv[6]),
            "key": argv[7],
            "server_host": argv[4],
            "server_port": int(argv[5]),
            "transport": argv[3],
        }
    )
    readings = int(opt[0]) if opt[0] else 5
    qdir = opt[1] or "/tmp/nbkit-e2e-%d" % cfg["device_id"]
    rounds = int(opt[2]) if opt[2] else 5
    per_frame = int(opt[3]) if opt[3] else 2
    sim = (opt[4], opt[5]) if opt[5] else None
    return argv[1], argv[2], cfg, readings, qdir, rounds, per_frame, sim


def _report(link, queue, cfg, key, per_frame):
    # One report: uplinks until the queue is empty or a frame gets no ack. -> records acked.
    acked = 0
    while queue.counts()["pending"]:
        pending = queue.pending(per_frame)
        data, n = frame.encode_data(cfg["device_id"], key, frame.records_from_pending(pending))
        link.send(data, last=n == len(pending), expect_reply=True)
        print("sent", pending[0][0], n, len(data))
        got = 0
        for reply in link.receive(_ACK_WAIT_MS):
            try:
                _, first, last = frame.check_reply(reply, key, data)
            except frame.FrameError as exc:
                print("ackbad", exc.reason)
                continue
            queue.ack_range(first, last)
            print("ack", first, last)
            got += last - first + 1
        if not got:
            break
        acked += got
    return acked


def main(argv):
    path, model, cfg, readings, qdir, rounds, per_frame, sim = _args(argv)
    key = unhexlify(cfg["key"])
    if sim is None:
        clock = Clock()
        tty = TtyTransport(path)
    else:
        clock = simwire.sim_clock(sim[0], sim[1])
        tty = simwire.counted_tty(path, clock, sim[1].split(".")[0])
    engine = Engine(tty, clock, line_max=2800)
    modem = make_modem(model, engine, clock, cfg)
    link = make_link(cfg, modem)
    queue = Queue(qdir)
    if not queue.counts()["pending"]:
        first = None
        for i in range(readings):
            seq = queue.append(frame.pack_record(_T0 + 60 * i, codes.WATER_L, 1000 + i))
            first = seq if first is None else first
        print("queued", readings, first)
    acked = 0
    for rnd in range(rounds):
        if rnd:
            engine.idle(1000)
        ok = link.up()
        print("up", rnd, ok, "" if ok else modem.last_error)
        if ok:
            try:
                acked += _report(link, queue, cfg, key, per_frame)
            except Exception as exc:  # LinkError, ModemError: the records stay queued
                print("error", exc)
            link.down()
        pending = queue.counts()["pending"]
        print("pending", pending)
        if not pending:
            break
    pending = queue.counts()["pending"]
    print("done", acked, pending)
    if sim is not None:
        simwire.leave(clock, sim[1].split(".")[0])
    sys.exit(0 if pending == 0 else 1)


main(sys.argv)
