"""littlefs images: what littlefs-python writes, MicroPython's VfsLfs2 mounts, and back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host_tools.device import flashimg
from tests.micropython_runner import run_micropython

MICRO = """
import os, sys
from nbkit.hal import flash
from nbkit.store import config
bdev = flash.FileBlockDevice(sys.argv[1], 512)
flash.mount(bdev, "/flash", create=False)
print(sorted(os.listdir("/flash")), sorted(os.listdir("/flash/seed")))
print(config.load("/flash/config.json")["device_id"])
with open("/flash/seed/blob", "rb") as f:
    print(f.read() == bytes(range(256)) * 3)
with open("/flash/from_device.txt", "w") as f:
    f.write("written by MicroPython")
os.mkdir("/flash/q")
with open("/flash/q/00000000", "wb") as f:
    f.write(b"x" * 700)
flash.umount("/flash")
bdev.close()
"""

CONFIG = {"device_id": 42, "key": "11" * 16, "server_host": "127.0.0.1", "server_port": 5683}


def test_micropython_mounts_a_host_image_and_the_host_reads_what_it_wrote(
    tmp_path: Path,
) -> None:
    image = tmp_path / "flash.img"
    flashimg.create_image(
        image,
        512,
        64,
        {"config.json": json.dumps(CONFIG).encode(), "seed/blob": bytes(range(256)) * 3},
    )
    script = tmp_path / "interop.py"
    script.write_text(MICRO)
    proc = run_micropython([str(script), str(image)], timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == ["['config.json', 'seed'] ['blob']", "42", "True"]
    assert flashimg.read_file(image, "from_device.txt") == b"written by MicroPython"
    assert flashimg.read_file(image, "q/00000000") == b"x" * 700
    assert flashimg.list_files(image) == [
        "config.json",
        "from_device.txt",
        "q/00000000",
        "seed/blob",
    ]


def test_missing_file_and_bad_geometry_are_clear_errors(tmp_path: Path) -> None:
    image = tmp_path / "flash.img"
    flashimg.create_image(image, 512, 16)
    with pytest.raises(FileNotFoundError, match="no file 'nope'"):
        flashimg.read_file(image, "nope")
    (tmp_path / "odd.img").write_bytes(b"\xff" * 1000)
    with pytest.raises(ValueError, match="whole 512-byte blocks"):
        flashimg.read_file(tmp_path / "odd.img", "x")
