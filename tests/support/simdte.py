"""A DTE on its own time master (host_tools.emulator.client.SimPtyClient) for e2e tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from host_tools.emulator.client import SimPtyClient
from host_tools.simclock.master import Master

EPOCH = 1_764_000_000


@contextmanager
def sim_dte(chan: str = "m0", stall_s: float = 10.0) -> Iterator[SimPtyClient]:
    """A started master and a DTE that joined it first (time waits for it): start the
    emulator with ``sim=dte.spec``, then ``dte.open(emu.path)``. Stopped on exit."""
    master = Master(EPOCH, stall_s=stall_s).start()
    dte = SimPtyClient(master.addr, chan)
    try:
        yield dte
    finally:
        dte.leave()
        master.stop()
