"""Secrets at rest on the host (issue 16 #7) and logs with a size cap (#9).

Key files, device configs and flash images hold device keys: they are 0600 whatever the umask,
written through a ``.tmp`` beside the target created with O_EXCL|O_NOFOLLOW and renamed, so a
symlink planted at the ``.tmp`` path is never written through.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from host_tools import cli
from host_tools.device import flashimg
from host_tools.errors import CommandError
from host_tools.files.private import tmp_path as staging_path
from host_tools.files.private import write_private
from host_tools.files.rotating import RotatingFile, parse_size
from host_tools.vboard.parts import ensure_flash


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0)  # the most permissive umask: nothing may come out wider than 0600
    yield
    os.umask(old)


def test_keys_new_writes_the_key_file_and_the_config_0600(tmp_path, open_umask):
    keys, cfg = tmp_path / "keys.json", tmp_path / "dev.json"
    argv = ["keys", "new", "--device", "5", "--keys", str(keys), "--config", str(cfg)]
    assert cli.main(argv) == 0
    assert _mode(keys) == 0o600 and _mode(cfg) == 0o600
    assert json.loads(cfg.read_text())["device_id"] == 5


def test_a_symlink_at_the_tmp_path_is_never_followed(tmp_path, open_umask):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    keys = tmp_path / "keys.json"
    staging_path(keys).symlink_to(victim)
    assert cli.main(["keys", "new", "--device", "6", "--keys", str(keys)]) == 0
    assert victim.read_text() == "precious\n"
    assert _mode(keys) == 0o600 and not keys.is_symlink()
    assert "devices" in json.loads(keys.read_text())
    assert not staging_path(keys).exists() and not staging_path(keys).is_symlink()


def test_a_rewrite_narrows_a_shared_file_and_replaces_it_atomically(tmp_path):
    target = tmp_path / "cfg.json"
    target.write_text("old")
    os.chmod(target, 0o644)
    inode = target.stat().st_ino
    write_private(target, "new")
    assert target.read_text() == "new" and _mode(target) == 0o600
    assert target.stat().st_ino != inode  # a new file renamed over the old one


def test_an_unwritable_place_is_a_command_error_naming_the_folder(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(CommandError, match="a-file"):
        write_private(blocker / "keys.json", "{}")
    with pytest.raises(CommandError, match="is a folder"):
        write_private(tmp_path, "{}")


def test_flash_images_that_hold_keys_are_0600(tmp_path, open_umask):
    image = tmp_path / "flash.img"
    ensure_flash(image, 64 * 4096)  # the virtual board's (and the demo's) image
    assert _mode(image) == 0o600
    seeded = tmp_path / "seeded.img"
    flashimg.create_image(seeded, files={"config.json": b'{"key": "00"}'})
    assert _mode(seeded) == 0o600


def test_a_shared_flash_image_is_narrowed_and_a_read_only_one_refused(tmp_path):
    image = tmp_path / "flash.img"
    image.write_bytes(b"\xff" * 64 * 4096)
    os.chmod(image, 0o644)
    ensure_flash(image, 64 * 4096)
    assert _mode(image) == 0o600
    os.chmod(image, 0o444)
    with pytest.raises(CommandError, match="read-only"):
        ensure_flash(image, 64 * 4096)


def test_a_log_never_grows_past_its_cap(tmp_path):
    log = RotatingFile(tmp_path / "c.log", max_bytes=4096, backups=3)
    for i in range(5000):
        log.line(f"collector: rejected forged from 10.0.0.{i % 250}:5683 (line {i})")
    log.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["c.log", "c.log.1", "c.log.2", "c.log.3"]
    assert all(f.stat().st_size <= 4096 for f in files)
    assert "(line 4999)" in (tmp_path / "c.log").read_text()  # the newest is kept
    assert log.rotations > 50


def test_log_sizes_parse_and_refuse_nonsense():
    assert parse_size("64k") == 65536 and parse_size("16M") == 16 * 1024 * 1024
    for bad in ("", "-5", "12x", "100"):
        with pytest.raises(ValueError):
            parse_size(bad)
