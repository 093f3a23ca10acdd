"""An emulated modem on a pty: the pieces wired together and served in one thread."""

from __future__ import annotations

import os
import pty
import selectors
import threading
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from host_tools.emulator.clock import SimTime, VirtualClock
from host_tools.emulator.commands import COMMANDS
from host_tools.emulator.modem import Modem, ModemOptions
from host_tools.emulator.persona import PERSONAS
from host_tools.emulator.reactor import Reactor, UartOutput
from host_tools.emulator.records import Spy, Timeline
from host_tools.emulator.response_times import timing_for
from host_tools.emulator.scenario import Scenario
from host_tools.emulator.uart import UartInput

READ_CHUNK = 4096


class Emulator:
    """Owns the pty pair, the event loop and the modem.

    ``path`` is the slave device the DTE opens. The emulator keeps its own slave descriptor
    open, so the pty survives DTE reconnects and bytes written while nobody listens wait in
    the pty buffer (as on a real UART line, up to a bound).
    """

    def __init__(
        self,
        opts: ModemOptions,
        clock: VirtualClock | SimTime,
        scenario: Scenario | None = None,
        spy_stream: IO[str] | None = None,
        timeline_stream: IO[str] | None = None,
    ) -> None:
        self.clock = clock
        self.reactor = Reactor(clock)
        self.read_bytes = 0  # bytes the DTE sent (a time master's counter)
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.spy = Spy(spy_stream, self.reactor.now)
        self.timeline = Timeline(timeline_stream, PERSONAS[opts.persona].name)
        #: the UART rate both ways: --baud (board data) or the persona's default
        self.baud = opts.baud or timing_for(opts.persona).baud
        self.output = UartOutput(
            self.reactor, self.master, self.spy, self._want_write, baud=self.baud
        )
        self.modem = _build_modem(
            opts,
            self.reactor,
            self.output,
            timeline=self.timeline,
            spy=self.spy,
            scenario=scenario,
        )
        self.input = UartInput(
            self.reactor, self.baud, self.modem.feed, on_activity=self.modem.uart_activity
        )
        self.modem.uart_in = self.input
        self.reactor.add_handler(self.master, selectors.EVENT_READ, self._on_pty)
        self._thread: threading.Thread | None = None
        self._closed = False

    def _want_write(self, want: bool) -> None:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
        self.reactor.add_handler(self.master, events, self._on_pty)

    def _on_pty(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self.output.flush()
        if mask & selectors.EVENT_READ:
            try:
                data = os.read(self.master, READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EIO: no slave open (cannot happen while we hold ours)
                return
            if data:
                self.read_bytes += len(data)
                self.spy.record("to_modem", data)
                self.input.feed(data)  # reaches the modem after its bit time

    def serve(self) -> None:
        """Power the modem on and serve until :meth:`stop`; then release everything."""
        try:
            self.modem.start()
            self.reactor.run()
        finally:
            self.close()

    def start_thread(self) -> Emulator:
        """Serve in a background thread (in-process tests); returns self."""
        self._thread = threading.Thread(target=self.serve, name="nbkit-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (thread- and signal-safe); waits for the background thread."""
        self.reactor.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.modem.close()
        self.reactor.close()
        os.close(self.master)
        os.close(self.slave)


def _build_modem(
    opts: ModemOptions,
    reactor: Reactor,
    output: UartOutput,
    *,
    timeline: Timeline,
    spy: Spy,
    scenario: Scenario | None,
) -> Modem:
    """The module of ``opts.persona`` with its firmware's command table: Huawei-firmware
    personas are a :class:`Modem` with :mod:`.commands`; Quectel ones (ec200, bc26) a
    :class:`QuectelModem` with :mod:`.qcommands` and its session tables (paho loaded only then);
    a persona naming ``modem_class`` ("module:Class", bc660k) gets that class and the module's
    ``COMMANDS``."""
    persona = PERSONAS[opts.persona]
    if persona.family == "quectel":
        import importlib

        from host_tools.emulator import qcommands
        from host_tools.emulator.quectel import QuectelModem

        cls, table = QuectelModem, qcommands.COMMANDS
        if persona.modem_class:
            name, _, attr = persona.modem_class.partition(":")
            module = importlib.import_module(name)
            cls, table = getattr(module, attr), module.COMMANDS
        return cls(
            opts,
            reactor,
            output,
            timeline=timeline,
            spy=spy,
            scenario=scenario,
            commands=table,
            sessions=qcommands.SESSIONS,
        )
    return Modem(
        opts,
        reactor,
        output,
        timeline=timeline,
        spy=spy,
        scenario=scenario,
        commands=COMMANDS,
    )


@contextmanager
def serving(
    opts: ModemOptions | None = None,
    *,
    time_scale: float = 1000.0,
    scenario: Scenario | None = None,
    spy_stream: IO[str] | None = None,
    timeline_stream: IO[str] | None = None,
    sim: str | None = None,
) -> Iterator[Emulator]:
    """An emulator serving in a background thread of this process (stopped on exit). ``sim``:
    a ``sim:HOST:PORT:CHAN`` spec, its clock is that time master's (``time_scale`` unused)."""
    clock: VirtualClock | SimTime = VirtualClock.starting_now(time_scale)
    if sim is not None:
        from host_tools.simclock.client import SimClient, parse_spec

        addr, chan = parse_spec(sim)
        clock = SimTime(chan)
        clock.client = SimClient(addr, f"{chan}.modem", clock.counters)
    emu = Emulator(
        opts or ModemOptions(),
        clock,
        scenario,
        spy_stream=spy_stream,
        timeline_stream=timeline_stream,
    )
    if isinstance(clock, SimTime):
        clock.watch(emu)
    emu.start_thread()
    try:
        yield emu
    finally:
        emu.stop()
        if isinstance(clock, SimTime):
            clock.client.close()
