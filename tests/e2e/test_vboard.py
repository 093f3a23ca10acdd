"""`nbkit vboard`: the firmware's board is a real littlefs image, a real tty, a virtual clock.

Each board runs on a time master of the test's own (tests/support/vboard.py): device time
moves only while the board, its host and the test all wait, so what a test sees never depends
on how fast or busy the host is."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import termios
import tty
from pathlib import Path

import pytest
from littlefs import LittleFS

from tests.support.vboard import PROBE, REPO, VBoardProcess

pytestmark = pytest.mark.e2e


def read_image(path: Path) -> LittleFS:
    """Mount a flash image on the host (littlefs-python) to check what the board wrote."""
    data = path.read_bytes()
    fs = LittleFS(block_size=4096, block_count=len(data) // 4096, mount=False)
    fs.context.buffer = bytearray(data)
    fs.mount()
    return fs


@pytest.fixture
def flash(tmp_path: Path) -> Path:
    return tmp_path / "flash.img"


@pytest.fixture
def probe(flash: Path):
    with VBoardProcess(flash, "--main", str(PROBE)) as vb:
        vb.expect(b"PROBE READY")
        yield vb


def test_first_boot_formats_the_flash_and_files_survive_a_power_cut(flash):
    probe = VBoardProcess(flash, "--main", str(PROBE))
    probe.expect(b"vboard: blank flash, formatting littlefs2")
    probe.expect(b"PROBE READY")
    assert probe.ask("info") == "unix_sim 1 None"  # PWRON_RESET, no wake reason
    assert probe.ask("put boots.txt 1") == "ok"
    os.kill(probe.status()["pid"], signal.SIGKILL)  # power cut
    assert b"formatting" not in probe.expect(rb"(?s)(.*?)PROBE READY").group(1)
    assert probe.ask("cat boots.txt") == "1"
    assert probe.status()["boots"] == 2
    probe.ctl("power off")  # the test holds device time while it reads the unpowered flash
    assert read_image(flash).open("boots.txt", "rb").read() == b"1"
    assert probe.stop() == 0


@pytest.mark.parametrize("torn", [False, True])
def test_a_power_cut_at_every_flash_write_leaves_the_old_or_the_new_file(probe, torn):
    probe.ask("fill data.bin 600 a")
    cuts = 0
    for index in range(1, 200):
        assert probe.ctl(f"cut {index}{' torn' if torn else ''}") == "ok"
        probe.expect(b"PROBE READY")
        probe.write(b"fill data.bin 600 b\n")  # rewrite the file: several flash writes
        if probe.expect(rb"= ok\r\n|PROBE READY").group(0) == b"= ok\r\n":
            break  # the rewrite finished before flash write `index`: every index was cut
        cuts += 1
        assert probe.status()["cuts"][-1] == index
        assert probe.ask("check data.bin") in ("600 a", "600 b")  # old or new, never mixed
        probe.ask("fill data.bin 600 a")
    else:
        raise AssertionError("the rewrite never completed")
    assert cuts >= 3, cuts  # the sweep cut the rewrite at each of its flash writes
    assert probe.ask("check data.bin") == "600 b"


def test_the_rtc_and_sleep_are_the_time_masters_to_the_microsecond(probe):
    before = probe.virtual_now()
    assert int(probe.ask("time")) == int(before)  # nothing passes while the board awaits a command
    assert float(probe.ask("sleep 120000")) == pytest.approx(120.0, abs=1e-6)  # two minutes
    assert probe.virtual_now() == pytest.approx(before + 120.0, abs=1e-6)  # not a moment later


def test_a_file_on_the_flash_still_overrides_a_built_in_module(probe):
    # The boot keeps the built-in modules that a file may extend (random, json...) in
    # sys.modules, so an import finds one without looking along sys.path (littlefs lookups
    # through the Python block device); a file on the flash that shadows one wins all the same,
    # as on a board, from the boot that finds it there.
    assert probe.ask("origin random") == "built-in"
    assert probe.ask("put random.py VALUE=1") == "ok"
    probe.ctl("power cycle")
    probe.expect(b"PROBE READY")
    assert probe.ask("origin random") == "random.py"
    assert probe.ask("origin json") == "built-in"


def test_a_flash_image_replaced_while_the_board_is_off_is_the_one_it_boots_with(probe, flash):
    # each boot maps the image file as it is then (the fork server maps it again when the file
    # is another one or another size)
    assert probe.ask("put mark.txt 1") == "ok"
    probe.ctl("power off")
    fresh = flash.with_name("fresh.img")
    fresh.write_bytes(b"\xff" * flash.stat().st_size)
    os.replace(fresh, flash)
    probe.ctl("power on")
    probe.expect(b"vboard: blank flash, formatting littlefs2")
    probe.expect(b"PROBE READY")
    assert "mark.txt" not in probe.ask("ls")
    assert probe.ask("put mark.txt 2") == "ok"
    probe.ctl("power off")  # the test holds device time while it reads the unpowered flash
    assert read_image(flash).open("mark.txt", "rb").read() == b"2"


def test_the_modem_uart_is_the_tty_given_on_the_command_line(flash):
    master, slave = pty.openpty()
    tty.setraw(master)
    reply = b"\r\n+CGSN:490154203237518\r\n\r\nOK\r\n"
    with VBoardProcess(flash, "--main", str(PROBE), "--modem-port", os.ttyname(slave)) as vb:
        vb.expect(b"PROBE READY")
        assert vb.ask("irq pulse_a") == "ok"
        with vb.held():  # the board writes the command and waits for the modem: no time passes
            vb.write(b"at AT+CGSN=1\n")
            got = b""
            while b"\r\n" not in got:
                assert select.select([master], [], [], 5)[0], got
                got += os.read(master, 64)
            assert got == b"AT+CGSN=1\r\n"
            vb.ctl("pulse pulse_a 1")  # the meter turns while the board waits for the modem:
            vb.run_until(vb.virtual_now() + 0.001)  # its edge lands 0.3 ms into the wait
            os.write(master, reply)  # 1 ms into the wait, counted: read before time moves on
            vb.sent_on("uart.dn", len(reply))
        assert vb.expect(rb"= ([^\r\n]*)\r\n").group(1) == (
            rb"b'\r\n+CGSN:490154203237518\r\n\r\nOK\r\n'"
        )
        assert vb.ask("phases") == "at"  # its IRQ ran during the UART wait
        attrs = termios.tcgetattr(slave)  # the board set the line up: raw 8N1 at the board's baud
        assert attrs[4] == attrs[5] == termios.B9600
        assert not attrs[3] & (termios.ECHO | termios.ICANON)
    os.close(master)
    os.close(slave)


def test_pulses_from_the_host_reach_pin_irqs_and_counters(probe):
    assert probe.ask("irq pulse_a") == "ok"
    assert probe.ctl("pulse pulse_a 3") == "ok"
    assert probe.ask("events 200") == "1 2 3"
    assert probe.ask("pin pulse_a") == "1 3 3"
    assert probe.ctl("set tamper 0") == "ok"
    assert probe.ask("pin tamper") == "0 1 0"
    assert probe.ctl("get tamper") == "pin tamper 0 1 0"


def test_pin_irqs_fire_during_a_light_sleep(probe):
    assert probe.ask("irq pulse_a") == "ok"
    with probe.held():  # the sleep starts at this instant; the pulses land 0.3 ms into it
        probe.write(b"sleep 300\n")
        probe.ctl("pulse pulse_a 2")
    assert float(probe.expect(rb"= ([0-9.]+)\r\n").group(1)) == pytest.approx(0.3, abs=1e-6)
    assert probe.ask("events 0") == "1 2"  # the handler ran while the board slept


def test_ctrl_c_interrupts_main_unless_the_firmware_turns_it_into_a_plain_byte(probe):
    assert probe.ask("kbd -1") == "ok"  # a line protocol on the console wants every byte
    assert probe.ask("echo a\x03b") == "'a\\x03b'"  # the byte reached the firmware
    assert probe.status()["boots"] == 1  # nothing died
    assert probe.ask("kbd 3") == "ok"
    probe.write(b"\x03")
    probe.expect(b"KeyboardInterrupt")
    probe.expect(b">>> ")


def test_pulses_are_counted_while_the_board_is_off(probe):
    probe.ctl("power off")  # between its actions the test holds device time: nothing is lost
    assert probe.ctl("pulse pulse_b 5") == "ok"
    probe.ctl("power on")
    probe.expect(b"PROBE READY")
    assert probe.ask("pin pulse_b") == "1 5 5"


def test_deep_sleep_reboots_after_the_virtual_time_with_the_deepsleep_cause(probe):
    asleep = probe.virtual_now()
    probe.write(b"deepsleep 30000\n")  # 30 device seconds
    probe.expect(b"PROBE READY")
    assert probe.ask("info") == "unix_sim 4 timer"
    assert 30.0 <= probe.virtual_now() - asleep < 31.0  # the sleep, then the boot's own work


def test_a_wake_pin_ends_deep_sleep_early(probe):
    asleep = probe.virtual_now()
    with probe.held():  # the day would pass at once: the test holds it until the meter turns
        probe.write(b"deepsleep 86400000 pulse_a\n")  # a day, unless the meter turns
        probe.wait_for(lambda: probe.status()["state"] == "sleeping")
        probe.ctl("pulse pulse_a 1")
    probe.expect(b"PROBE READY")
    assert probe.ask("info") == "unix_sim 4 pulse_a"
    assert probe.virtual_now() - asleep < 1.0  # woken at the edge, not after the day


def test_factory_config_is_seeded_once_at_first_boot(tmp_path, flash):
    seed = tmp_path / "seed.json"
    seed.write_text('{"device_id": 7}')
    with VBoardProcess(flash, "--main", str(PROBE), "--seed-config", str(seed)) as vb:
        vb.expect(b"factory config written to config.json")
        vb.expect(b"PROBE READY")
        assert vb.ask("cat config.json") == '{"device_id": 7}'
        vb.ask("put config.json changed")
        vb.ctl("power cycle")
        vb.expect(b"PROBE READY")
        assert vb.ask("cat config.json") == "changed"  # never re-seeded over a device's config


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_the_board_and_its_micropython_process(probe, sig):
    pid = probe.status()["pid"]
    assert probe.stop(sig) == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_without_console_the_board_talks_on_stdio_and_runs_with_stdin_closed(tmp_path, flash):
    main = tmp_path / "main.py"
    main.write_text("print('board up')\n")
    cmd = [
        sys.executable,
        "-m",
        "host_tools",
        "vboard",
        "--flash",
        str(flash),
        "--main",
        str(main),
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out = b""
    while b">>> " not in out:  # main ran, then the REPL, as on a board
        assert select.select([proc.stdout], [], [], 10)[0], out
        assert proc.stdout is not None
        out += os.read(proc.stdout.fileno(), 4096)
    assert b"board up" in out
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0
    assert proc.stderr is not None
    proc.stderr.close()
    proc.stdout.close()


def _mpremote(port: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mpremote", "connect", port, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


def test_mpremote_exec_ls_and_cp_work_on_the_flash_image(tmp_path, flash):
    local = tmp_path / "hello.py"
    local.write_text("print('hello from flash')\n")
    with VBoardProcess(flash) as vb:  # the real firmware/main.py runs first, as on a board
        vb.let_time_run()  # mpremote drives it in wall time, as a real board
        ran = _mpremote(vb.console, "exec", "import os; print(os.getcwd(), 6 * 7)")
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.split() == ["/", "42"]
        cp = _mpremote(vb.console, "fs", "cp", str(local), ":hello.py", "+", "fs", "ls", ":")
        assert cp.returncode == 0, cp.stderr
        assert "hello.py" in cp.stdout
        ran = _mpremote(vb.console, "exec", "import hello")
        assert ran.stdout.strip() == "hello from flash"
        assert vb.status()["boots"] >= 4  # every mpremote session soft-resets the board
        with vb.held():  # nothing can wake an unpowered board: time stands while the test reads
            vb.ctl("power off")
            assert read_image(flash).open("hello.py", "rb").read() == local.read_bytes()


def test_soft_reset_from_the_raw_repl_prints_the_banner_and_stays_raw(tmp_path, flash):
    with VBoardProcess(flash, "--main", str(PROBE)) as vb:
        vb.expect(b"PROBE READY")
        vb.write(b"\r\x03")  # interrupt main, like mpremote
        vb.expect(b">>> ")
        vb.write(b"\r\x01")
        vb.expect(b"raw REPL; CTRL-B to exit\r\n>")
        vb.write(b"\x04")
        vb.expect(b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>")
        assert b"PROBE READY" not in vb.buf  # main.py is skipped after a raw-REPL reset
        vb.write(b"print(1 + 2)\x04")
        vb.expect(b"OK3\r\n\x04\x04>")
        vb.write(b"\x02")  # friendly REPL
        vb.expect(b">>> ")
        vb.write(b"\x04")  # soft reset from the friendly REPL runs main.py again
        vb.expect(b"MPY: soft reboot\r\n")
        vb.expect(b"PROBE READY")


def test_bad_command_lines_are_refused_before_anything_starts(tmp_path):
    def vboard(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "host_tools", "vboard", *args]
        return subprocess.run(
            cmd, cwd=REPO, capture_output=True, text=True, timeout=30, check=False
        )

    flash = str(tmp_path / "f.img")
    cases = [
        (["--flash", flash, "--board", "esp32_bc28"], "is a esp32 board, not a virtual one"),
        (["--flash", flash, "--main", "nope.py"], "--main nope.py: no such file"),
        (["--flash", flash, "--clock", "1,2"], "expected WALL_START,EPOCH,SCALE"),
        (["--flash", flash, "--flash-size", "1000"], "--flash-size must be a multiple of 4096"),
        (["--flash", flash, "--modem-port", "/dev/nope"], "--modem-port /dev/nope: no such"),
    ]
    for args, message in cases:
        proc = vboard(*args)
        assert proc.returncode == 1 and message in proc.stderr, (args, proc.stderr)


def test_a_corrupt_flash_is_reported_not_silently_reformatted(tmp_path, flash):
    flash.write_bytes(bytes(range(256)) * 256)  # 64 KiB that are not littlefs and not erased
    with VBoardProcess(flash, "--main", str(PROBE)) as vb:
        vb.expect(b"CORRUPT flash \\(littlefs does not mount\\), formatting: data lost")
        vb.expect(b"PROBE READY")


def test_the_board_runs_its_built_in_code_in_place_from_a_rom_outside_its_heap(tmp_path, flash):
    # The --app tree is the board's ROM (a ROMFS image mapped outside the MicroPython heap, as a
    # board maps its flash): a compiled module's bytecode stays there. The same .mpy imported
    # from the flash is loaded into the heap, bytecode and all: it takes more than the file
    # (its names interned already), and over half the file more than from the ROM.
    from host_tools.device.build import build_board

    build_board("unix_sim", tmp_path / "app")
    app = tmp_path / "app" / "unix_sim"
    size = (app / "nbkit" / "proto" / "frame.mpy").stat().st_size
    with VBoardProcess(flash, "--main", str(PROBE), "--app", str(app)) as vb:
        vb.expect(b"PROBE READY")
        assert vb.ask("where nbkit.hal.unix_board") == "/.frozen/nbkit/hal/unix_board.mpy"
        assert vb.ask("where nbkit.proto.codes") == "/.frozen/nbkit/proto/codes.mpy"
        # the first import interns the module's names (and may grow the qstr pool): the
        # costs compared are those of the second, with every name interned already
        vb.ask("cost nbkit.proto.frame")
        assert vb.ask("drop nbkit.proto.frame") == "ok"
        from_rom = int(vb.ask("cost nbkit.proto.frame"))
        assert vb.ask("copy /.frozen/nbkit/proto/frame.mpy /frame_copy.mpy") == str(size)
        from_flash = int(vb.ask("cost frame_copy"))
        assert ".frozen" not in vb.ask("ls /")  # built in: importable, never listed
    assert from_flash > size and from_flash - from_rom > size // 2, (from_rom, size, from_flash)
