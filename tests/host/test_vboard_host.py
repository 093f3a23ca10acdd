"""The host side of `nbkit vboard` without a MicroPython process: clock, flash file, control."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from host_tools.device import boards
from host_tools.errors import CommandError
from host_tools.vboard import host
from host_tools.vboard.command import Options, VBoard, ensure_flash, parse_clock, send_control


def test_the_clock_triple_maps_wall_time_to_virtual_time():
    # bounds from wall readings taken around each call: a busy host cannot fail it
    before = time.time()
    clock = parse_clock(f"{before - 2:.6f},1764000000,1")
    now = clock.now()
    after = time.time()
    lo = 1764000000 + 2  # 2 wall seconds = 2 virtual seconds: a shared clock is real time
    assert lo - 0.01 <= now <= lo + (after - before) + 0.01, (now, lo)
    assert parse_clock(clock.triple()) == clock
    before = time.time()
    at = clock.wall_after(1000)  # one virtual second = one wall second from now
    after = time.time()
    assert before + 1.0 - 1e-6 <= at <= after + 1.0 + 1e-6, (before, at, after)


def test_a_scaled_clock_triple_is_refused_naming_the_time_master():
    with pytest.raises(CommandError, match="SCALE 1.*--clock sim:"):
        parse_clock("1764000000,1764000000,3600")


@pytest.mark.parametrize("text", ["1,2", "a,b,c", "1,2,0", "1,2,-5"])
def test_a_bad_clock_triple_is_refused(text):
    with pytest.raises(CommandError, match="--clock"):
        parse_clock(text)


def test_a_new_flash_image_is_erased_flash_and_an_existing_one_is_kept(tmp_path: Path):
    img = tmp_path / "f.img"
    ensure_flash(img, 64 * 1024)
    assert img.read_bytes() == b"\xff" * 65536
    img.write_bytes(b"\x00" * 65536)
    ensure_flash(img, 128 * 1024)
    assert img.read_bytes() == b"\x00" * 65536  # never reformatted or resized by the host
    img.write_bytes(b"\x00" * 1000)
    with pytest.raises(CommandError, match="not a flash image"):
        ensure_flash(img, 65536)


@pytest.fixture
def vb(tmp_path: Path):
    img = tmp_path / "f.img"
    ensure_flash(img, 64 * 1024)
    opts = Options(
        board=boards.load("unix_sim"),
        flash=img,
        flash_size=65536,
        modem_port=None,
        clock=parse_clock(f"{time.time():.6f},1764000000,1"),  # real time
    )
    board = VBoard(opts, -1, -1)
    yield board
    board.ctl.close()
    board.tmp.cleanup()


ADDR = ("127.0.0.1", 9)


@pytest.mark.parametrize(
    "command, message",
    [
        ("pulse nope 1", "unknown pin 'nope'; pins: pulse_a"),
        ("pulse pulse_a 0", "pulse count must be 1..100000"),
        ("pulse pulse_a 100001", "pulse count must be 1..100000"),
        ("pulse pulse_a 1 -5", "period_ms >= 0"),
        ("pulse pulse_a x", "invalid literal"),
        ("set tamper 70000", "value must be 0..65535"),
        ("power sideways", "unknown command 'power'"),
        ("reboot", "unknown command 'reboot'; commands: pulse, set, get"),
    ],
)
def test_bad_control_commands_are_answered_with_the_reason(vb, command, message):
    with pytest.raises((ValueError, KeyError, IndexError), match=message):
        vb.command(command, ADDR)


def test_pulses_with_a_period_are_spaced_in_virtual_time(vb):
    vb.pulse("pulse_a", 3, 2.0)  # a pulse every 2 ms
    assert [v for _, _, v in vb.schedule] == [0, 1] * 3
    times = [t for t, _, _ in vb.schedule]  # the schedule is kept in virtual seconds
    gaps = [later - t for t, later in zip(times, times[1:], strict=False)]
    assert all(abs(g - 0.001) < 1e-6 for g in gaps), gaps  # half a period low, half high
    deadline = time.monotonic() + 2
    while vb.schedule and time.monotonic() < deadline:
        time.sleep(0.001)
        vb._run_schedule()
    assert vb.command("get pulse_a", ADDR) == "pin pulse_a 1 3 3"


def test_status_is_json_with_the_pins_and_counters(vb):
    vb.command("set button 0", ADDR)
    status = json.loads(vb.command("status", ADDR) or "")
    assert status["state"] == "off" and status["pid"] is None
    assert status["pins"]["button"] == {"value": 0, "falling": 1, "rising": 0}


def test_send_control_reports_a_missing_vboard(vb):
    port = vb.control_port
    vb.ctl.close()
    with pytest.raises(CommandError, match=f"no vboard answers on udp 127.0.0.1:{port}"):
        send_control(port, "status", timeout=0.2)


def test_a_ctrl_c_the_flash_held_back_is_typed_again_before_queued_input(vb):
    vb.in_buf += b"print(1)\r"
    assert vb.command("ctrl-c", ADDR) is None  # the board's block device caught it mid-I/O
    assert bytes(vb.in_buf) == b"\x03print(1)\r"


@pytest.fixture
def stand_in(vb):
    """A process standing in for the board's MicroPython (so a kill hits nothing else), its
    console a pipe the test writes the board's output into."""
    proc = subprocess.Popen(["sleep", "30"])
    rd, wr = os.pipe()
    os.set_blocking(rd, False)  # as the host keeps a board's pty
    if vb.zygote is not None:  # the stand-in is the host's own child, reaped with waitpid
        vb.zygote.close()
        vb.zygote = None
    vb.child = host._Child(proc.pid, rd)
    yield vb, wr
    proc.kill()
    proc.wait()
    os.close(wr)
    if vb.child is not None:
        os.close(rd)


def test_a_ctrl_c_that_met_the_deep_sleep_call_leaves_the_board_at_its_repl(stand_in):
    # the board sent `deepsleep`, then the Ctrl-C typed a moment before raised
    # KeyboardInterrupt in the call: it wins, as a board's UART IRQ would
    vb, console = stand_in
    vb.ctrl_c_at = time.monotonic()
    os.write(console, b"Traceback (most recent call last):\r\nKeyboardInterrupt\r\n")
    assert vb.command("deepsleep 600000", ADDR) is None
    assert vb.child is not None and vb.state != "sleeping"
    assert b"KeyboardInterrupt" in vb.out_buf


def test_a_deep_sleep_long_after_a_ctrl_c_is_a_deep_sleep(stand_in):
    vb, console = stand_in
    vb.ctrl_c_at = time.monotonic() - 5
    assert vb.command("deepsleep 600000", ADDR) is None
    assert vb.child is None and vb.state == "sleeping"


def test_a_ctrl_c_the_board_took_as_a_byte_does_not_keep_it_awake(stand_in):
    # no traceback follows (a production console reads Ctrl-C as a byte): it sleeps, at once
    vb, console = stand_in
    vb.ctrl_c_at = time.monotonic()
    started = time.monotonic()
    assert vb.command("deepsleep 600000", ADDR) is None
    assert vb.child is None and vb.state == "sleeping"
    assert time.monotonic() - started < 1.0


def test_a_deep_sleep_the_board_asked_for_before_its_power_cut_does_not_put_the_next_boot_to_sleep(
    stand_in,
):
    # the board sent `deepsleep` (never said hello: its address unknown), then the power was
    # cut before the host read it; a command sent after it is still served, in order
    vb, _ = stand_in
    board = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rig = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rig.settimeout(2)
    try:
        board.sendto(b"deepsleep 1000", ("127.0.0.1", vb.control_port))
        rig.sendto(b"get button", ("127.0.0.1", vb.control_port))
        time.sleep(0.05)  # both datagrams queued at the host (loopback delivery is immediate)
        vb.kill_child("power")
        assert vb.state != "sleeping" and vb._deferred, vb.state
        vb._on_control()
        assert vb.state != "sleeping"  # the dead board's request was dropped
        assert rig.recv(100) == b"pin button 1 0 0"  # the rig's command was not
    finally:
        board.close()
        rig.close()


def test_the_rom_image_holds_the_app_tree_and_leaves_out_caches(tmp_path):
    from host_tools.vboard import rom

    app = tmp_path / "app"
    (app / "nbkit" / "__pycache__").mkdir(parents=True)
    (app / "nbkit" / "mod.mpy").write_bytes(b"M\x06code")
    (app / "nbkit" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"stale")
    (app / "board.json").write_text("{}")
    size = rom.build_image(app, tmp_path / "rom.img")
    image = (tmp_path / "rom.img").read_bytes()
    assert len(image) == size and image.startswith(b"\xd2\xcd\x31")  # ROMFS, as VfsRom reads
    assert b"mod.mpy" in image and b"M\x06code" in image and b"board.json" in image
    assert b"__pycache__" not in image and b"stale" not in image


def test_an_empty_app_tree_is_refused_before_a_board_boots(tmp_path):
    from host_tools.vboard import rom

    (tmp_path / "app").mkdir()
    with pytest.raises(CommandError, match="no files to put in the board's ROM"):
        rom.build_image(tmp_path / "app", tmp_path / "rom.img")
