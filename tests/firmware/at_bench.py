# AT micro-benchmark (MicroPython): one attach + open + send (+ receive) cycle of the BC95 driver
# against the scripted modem, printing one JSON line:
#   AT round trips and bytes in/out per phase, peak live heap above the baseline (gc.collect()
#   at every transport call, so garbage is not counted) and bytes allocated per cycle (gc off).
# Run: MICROPYPATH=firmware:tests/firmware micropython -X heapsize=128K tests/firmware/at_bench.py
# (host_tools/bench/at.py does exactly that for `nbkit bench`).
import gc
import json

import bc95_script as s
from fakes import ScriptedModem
from heap_probe import HeapProbe

IP = b"10.0.0.9"


def _script(fake):
    s.configure(fake)
    s.attach(fake, register_after_ms=1500)
    s.open_socket(fake, 1)
    s.send(fake, 1, IP, 5683, b"\x01" * 32)


def _recv_script(fake):
    fake.send(b"\r\n+NSONMI:1,8\r\n", after_ms=300)
    s.nsorf(fake, 1, IP, 5683, b"\x06" * 8)
    s.nsorf_empty(fake, 1)


def _cycle(engine, modem, fake):
    # Returns {phase: (round trips, bytes out, bytes in)}.
    out = {}
    mark = (engine.commands, engine.bytes_out, engine.bytes_in)
    assert modem.attach(60000), modem.last_error
    sock = modem.open_udp()
    modem.sendto(sock, "10.0.0.9", 5683, b"\x01" * 32)
    out["attach_send"] = _delta(engine, mark)
    _recv_script(fake)
    mark = (engine.commands, engine.bytes_out, engine.bytes_in)
    got = modem.recv(sock, 5000)
    assert len(got) == 1, got
    out["receive"] = _delta(engine, mark)
    return out


def _delta(engine, mark):
    return (
        engine.commands - mark[0],
        engine.bytes_out - mark[1],
        engine.bytes_in - mark[2],
    )


def _load():
    # Import the driver after a heap baseline: (Engine, ManualClock, Bc95, bytes the modules took).
    gc.collect()
    before = gc.mem_alloc()
    from nbkit.at.engine import Engine
    from nbkit.hal.clock import ManualClock
    from nbkit.modem.bc95 import Bc95

    gc.collect()
    return Engine, ManualClock, Bc95, gc.mem_alloc() - before


def main():
    Engine, ManualClock, Bc95, modules = _load()
    gc.collect()
    base = gc.mem_alloc()
    clock = ManualClock()
    fake = ScriptedModem(clock, split=16)
    probe = HeapProbe(fake, base)
    engine = Engine(probe, clock)
    modem = Bc95(engine, clock)
    gc.collect()
    objects = gc.mem_alloc() - base
    _script(fake)
    phases = _cycle(engine, modem, fake)
    fake.verify()

    # Allocation churn of a second identical cycle with the collector off.
    clock2 = ManualClock()
    fake2 = ScriptedModem(clock2, split=16)
    engine2 = Engine(fake2, clock2)
    modem2 = Bc95(engine2, clock2)
    _script(fake2)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    _cycle(engine2, modem2, fake2)
    churn = gc.mem_alloc() - before
    gc.enable()

    print(
        json.dumps(
            {
                "attach_send_round_trips": phases["attach_send"][0],
                "attach_send_bytes_out": phases["attach_send"][1],
                "attach_send_bytes_in": phases["attach_send"][2],
                "receive_round_trips": phases["receive"][0],
                "receive_bytes_out": phases["receive"][1],
                "receive_bytes_in": phases["receive"][2],
                "modules_bytes": modules,
                "engine_and_driver_bytes": objects,
                "peak_heap_above_baseline": probe.peak,
                "allocated_per_cycle": churn,
            }
        )
    )


main()
