"""pytest plugin for hardware-in-the-loop tests: the same suite on a real board or the virtual one.

Registered as the ``nbkit_hil`` pytest11 entry point (pyproject.toml), so any pytest run in the
nbkit environment has these options:

    pytest tests/hil                        # virtual board + emulated modem + collector
    pytest tests/hil --board esp32_bc28 --port /dev/ttyUSB0 [--flash FW.bin] [--deploy]
                     [--pin-file pin.txt | --auth-key-file device.key]

Fixtures: ``hil_target`` (session: the board, its console port, reset/power, secrets, the
collector's uplinks on the virtual rig), ``dut`` (a :class:`host_tools.hil.dut.Dut` on the console
port, ``expect(pattern, timeout)`` shows the buffer on failure), ``service`` (the board reset so
its service window is open; closed again afterwards) and ``provision`` (runs ``nbkit provision``
on the port with the target's secret, returns exit code and JSON). Markers: ``needs_collector``
(the test reads what the collector received: the virtual rig has one), ``virtual_only`` (power
cuts and other things only the virtual board can do). Artifacts of every test (console log,
the AT spy log of the emulator) go under ``<pytest basetemp>/nbkit-hil/<test>/``; a failing test
prints their paths.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from host_tools.files.private import write_private
from host_tools.hil.dut import Dut
from host_tools.rig.rig import Rig, RigOptions

VIRTUAL_BOARD = "unix_sim"
#: device seconds per wall second at most, on the virtual target
PACE = 2400.0
_ARTIFACTS = pytest.StashKey[dict[str, Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The HIL options (`pytest --help`, group "nbkit HIL")."""
    group = parser.getgroup("nbkit HIL", "hardware-in-the-loop tests (tests/hil)")
    group.addoption("--board", default=VIRTUAL_BOARD, help="board name (boards/*.json)")
    group.addoption(
        "--port",
        default=None,
        help="console port of a real board; without it the suite runs on the virtual board",
    )
    group.addoption("--flash", metavar="FIRMWARE", help="flash this MicroPython image first")
    group.addoption("--deploy", action="store_true", help="nbkit deploy the app first")
    group.addoption("--pin-file", metavar="FILE", help="service PIN of the real board")
    group.addoption("--auth-key-file", metavar="FILE", help="device key (hex) of the real board")


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers; a --port or secret file that cannot be used is one usage error."""
    _check_options(config)
    config.addinivalue_line(
        "markers", "needs_collector: reads what the collector received (virtual rig only)"
    )
    config.addinivalue_line(
        "markers", "virtual_only: needs the virtual board (power cuts, control channel)"
    )


def _check_options(config: pytest.Config) -> None:
    """Refuse a console port that is not there (before any test runs, not once per test)."""
    port = config.getoption("--port", None)
    if port and "://" not in port:  # pyserial URLs (rfc2217://, socket://) are checked on open
        path = Path(port)
        if not path.exists():
            raise pytest.UsageError(
                f"nbkit HIL: --port {port}: no such port - plug the board in and pass its "
                "console port (e.g. --port /dev/ttyUSB0), or leave --port out to run the "
                "suite on the virtual board"
            )
        if not path.is_char_device():
            raise pytest.UsageError(
                f"nbkit HIL: --port {port}: not a serial port (a character device such as "
                "/dev/ttyUSB0 or /dev/ttyACM0 is expected)"
            )
        if not os.access(path, os.R_OK | os.W_OK):
            raise pytest.UsageError(
                f"nbkit HIL: --port {port}: not readable and writable by this user - add "
                "yourself to the port's group (e.g. dialout) or pick another port"
            )
    for option in ("--pin-file", "--auth-key-file", "--flash"):
        value = config.getoption(option, None)
        if value and not Path(value).is_file():
            raise pytest.UsageError(f"nbkit HIL: {option} {value}: no such file")


# -- targets --------------------------------------------------------------------------------


class _QuietRig(Rig):
    """The rig without its own console reader: the console belongs to the tests (Dut, tools)."""

    def _console_reader(self) -> None:
        return


class Target:
    """What the HIL tests talk to: a console port plus what the target can do besides."""

    virtual = False
    has_collector = False

    def __init__(self, board: str, port: str, workdir: Path) -> None:
        self.board = board
        self.port = port
        self.workdir = workdir
        self.auth: list[str] = []

    def reset(self) -> None:
        """Reset the board so that its service window opens (power-on/reset boot)."""
        raise NotImplementedError

    def open_console(self, dut: Dut, first_line: str) -> None:
        """Reset the board and send first_line into its service window (the attention line).

        A virtual board's console pty keeps what is typed during the boot, so the line goes
        first; a real board drops bytes while it boots, so the line follows the banner.
        """
        self.reset()
        if self.virtual:
            dut.writeline(first_line)
        dut.expect(r"service console open for [\d.]+ s", timeout=20)
        if not self.virtual:
            dut.writeline(first_line)

    def spy_path(self) -> Path | None:
        """The AT spy log of the modem link (JSON lines), when the target has one."""
        return None

    def uplinks(self) -> list[dict[str, Any]]:
        """Uplink events the collector received so far."""
        return []

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait up to timeout wall seconds for predicate()."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def check_alive(self) -> None:
        """Raise when a part of the target has died."""

    def stop(self) -> None:
        """Release the target."""


class VirtualTarget(Target):
    """The virtual rig: collector + BC28 emulator + virtual board running the real app."""

    virtual = True
    has_collector = True

    def __init__(self, workdir: Path) -> None:
        # the rig's time master, paced: a HIL test talks to the board's console in wall time,
        # as it does to a real board with --port, so device time also runs on by itself, at
        # most x2400 (a 15 min sleep in 0.4 s) and at wall speed while a tool is at the
        # console (the service window as on a board); the host's latency is still no device
        # time (every process of the rig waits for the rest)
        self.rig = _QuietRig(workdir / "rig", RigOptions(clock="sim", pace=PACE))
        self.rig.start()
        super().__init__(VIRTUAL_BOARD, self.rig.console_path, workdir)
        key = json.loads(self.rig.path("device.json").read_text())["key"]
        key_file = workdir / "device.key"
        write_private(key_file, key + "\n")
        self.auth = ["--auth-key-file", str(key_file)]

    def reset(self) -> None:
        self.control("power cycle")

    def control(self, command: str) -> str:
        """A command on the virtual board's control channel (`nbkit vboard --help`)."""
        reply = self.rig.control(command)
        if reply.startswith("error"):
            raise AssertionError(f"vboard control {command!r}: {reply}")
        return reply

    def status(self) -> dict[str, Any]:
        return dict(json.loads(self.control("status")))

    def spy_path(self) -> Path:
        return self.rig.path("spy.jsonl")

    def uplinks(self) -> list[dict[str, Any]]:
        return list(self.rig.uplinks)

    def check_alive(self) -> None:
        self.rig.check_alive()

    def stop(self) -> None:
        self.rig.stop()


class RealTarget(Target):
    """A board on a serial port. Only tested against the virtual board so far (see README)."""

    def __init__(self, config: pytest.Config, workdir: Path) -> None:
        board, port = config.getoption("--board"), config.getoption("--port")
        super().__init__(board, port, workdir)
        _probe_port(port)
        if config.getoption("--pin-file"):
            self.auth = ["--pin-file", config.getoption("--pin-file")]
        elif config.getoption("--auth-key-file"):
            self.auth = ["--auth-key-file", config.getoption("--auth-key-file")]
        firmware = config.getoption("--flash")
        if firmware:
            _nbkit_checked("flash", "--board", board, "--port", port, "--firmware", firmware)
        if config.getoption("--deploy"):
            _nbkit_checked("deploy", "--board", board, "--port", port)

    def reset(self) -> None:
        # ESP32 boards: EN is wired to RTS through the USB-UART's auto-reset circuit.
        import serial

        with serial.Serial(self.port, 115200) as s:
            s.dtr = False
            s.rts = True
            time.sleep(0.1)
            s.rts = False
        time.sleep(1.0)  # MicroPython boots and reaches main.py


def _probe_port(port: str) -> None:
    """Open and close the port once: a port that cannot be opened stops the session once."""
    import serial

    try:
        serial.serial_for_url(port, baudrate=115200, timeout=0.1).close()
    except (serial.SerialException, OSError, ValueError) as exc:
        pytest.exit(
            f"nbkit HIL: --port {port}: cannot open it ({exc}) - check the cable and "
            "that no other program (a terminal, mpremote) holds the port",
            returncode=4,
        )


def _nbkit_checked(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "host_tools", *args], check=False)
    if proc.returncode:
        pytest.exit(f"nbkit {' '.join(args)} failed (exit {proc.returncode})", returncode=1)


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hil_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """The board under test: the virtual rig by default, a real board with --port."""
    workdir = tmp_path_factory.mktemp("nbkit-target")
    target: Target
    if request.config.getoption("--port"):
        target = RealTarget(request.config, workdir)
    else:
        target = VirtualTarget(workdir)
    try:
        yield target
    finally:
        target.stop()


@pytest.fixture(autouse=True)
def _nbkit_hil_skips(request: pytest.FixtureRequest) -> None:
    """Skip what the target lacks (markers); only tests that use the HIL fixtures are touched."""
    if not {"hil_target", "dut", "service", "provision"} & set(request.fixturenames):
        return
    virtual = not request.config.getoption("--port")
    if request.node.get_closest_marker("virtual_only") and not virtual:
        pytest.skip("needs the virtual board")
    if request.node.get_closest_marker("needs_collector") and not virtual:
        pytest.skip("needs the collector of the virtual rig")


@pytest.fixture
def hil_artifacts(
    request: pytest.FixtureRequest, hil_target: Target, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    """Paths of this test's artifacts: console.log (Dut) and at-spy.jsonl (emulator --spy)."""
    base = (
        tmp_path_factory.getbasetemp() / "nbkit-hil" / re.sub(r"[^\w.-]+", "_", request.node.name)
    )
    base.mkdir(parents=True, exist_ok=True)
    paths = {"console": base / "console.log"}
    spy = hil_target.spy_path()
    if spy:  # only a target with an AT spy (the virtual rig) has an AT log to show
        paths["at_spy"] = base / "at-spy.jsonl"
    for path in paths.values():
        path.touch()  # the paths a failure prints exist, even when nothing was written to them
    request.node.stash[_ARTIFACTS] = paths
    start = spy.stat().st_size if spy and spy.exists() else 0
    yield paths
    if spy and spy.exists():
        with spy.open("rb") as src, paths["at_spy"].open("wb") as dst:
            src.seek(start)
            shutil.copyfileobj(src, dst)  # the AT traffic of this test only


@pytest.fixture
def dut(hil_target: Target, hil_artifacts: dict[str, Path]) -> Iterator[Dut]:
    """The board's console: write lines, ``expect(pattern, timeout)``; logged to console.log."""
    hil_target.check_alive()
    d = Dut(hil_target.port, log_path=hil_artifacts["console"])
    try:
        yield d
    finally:
        d.close()


ProvisionFn = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture
def provision(hil_target: Target, hil_artifacts: dict[str, Path]) -> ProvisionFn:
    """``provision("get")`` runs ``nbkit provision --json`` on the console -> (exit, JSON)."""

    def run(*args: str, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
        from host_tools.cli import main as nbkit_main

        argv = ["provision", "--port", hil_target.port, "--json", "--timeout", str(timeout)]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = nbkit_main([*argv, *hil_target.auth, *args])
        with hil_artifacts["console"].open("a") as log:
            log.write(f"$ nbkit provision {' '.join(args)} -> {code}\n{out.getvalue()}")
            log.write(err.getvalue())
        text = out.getvalue()
        return code, (json.loads(text) if text.strip().startswith("{") else {"raw": text})

    return run


@pytest.fixture
def service(
    hil_target: Target, provision: ProvisionFn, hil_artifacts: dict[str, Path]
) -> Iterator[Target]:
    """The board freshly reset with its service window open; the window is closed after."""
    hil_target.check_alive()
    if hil_target.virtual:
        hil_target.reset()  # what the tool types during the boot waits in the console pty
    else:  # a real board drops bytes while it boots: wait for the window's banner first
        banner = Dut(hil_target.port, log_path=hil_artifacts["console"])
        try:
            hil_target.reset()
            banner.expect(r"service console open for [\d.]+ s", timeout=20)
        finally:
            banner.close()
    code, doc = provision("identify")  # the first line within the attention time keeps it open
    if code != 0 and hil_target.virtual:  # a host too busy to type within the 0.2 s window
        hil_target.reset()
        code, doc = provision("identify")
    assert code == 0, f"no service console after a reset: {doc}"
    yield hil_target
    close_window(hil_target.port)


def close_window(port: str) -> None:
    """Send ``exit`` with no session unlocked: the device leaves its service window."""
    from host_tools.device.provision import ConsoleClient, DeviceUnreachable

    try:
        client = ConsoleClient.open(port, timeout=3.0)
    except DeviceUnreachable:
        return
    try:
        client.sync()
        client.command("exit")
    except DeviceUnreachable:
        pass  # already closed (idle timeout) or the board sleeps
    finally:
        client.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failure, show where the console log and the AT spy log of the test are."""
    report = yield
    paths = item.stash.get(_ARTIFACTS, None)
    if report.failed and paths:
        lines = [f"{name}: {path}" for name, path in paths.items()]
        report.sections.append(("nbkit HIL artifacts", "\n".join(lines)))
    return report
