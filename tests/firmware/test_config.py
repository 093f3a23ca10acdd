# Device config on littlefs: validation with clear errors, and atomic replacement under a power
# cut at every flash write index of a save (the old or the new config, never a broken one).
from nbkit.hal import flash
from nbkit.store import config

HEAPSIZE = "128K"
PATH = "/flash/config.json"
OLD = {"device_id": 7, "key": "00" * 16, "server_host": "10.0.0.1", "server_port": 5683}
NEW = {"device_id": 7, "key": "ab" * 32, "server_host": "collector.example", "server_port": 9999}


def _fresh():
    image = flash.new_image(512, 64)
    bdev = flash.RamBlockDevice(image, 512)
    flash.format(bdev)
    flash.mount(bdev, "/flash", create=False)
    config.save(PATH, OLD)
    flash.umount("/flash")
    return image


def _problem(cfg):
    try:
        config.validate(cfg)
    except config.ConfigError as exc:
        return str(exc)
    return None


def test_defaults_are_filled_and_required_fields_named():
    cfg = config.validate(OLD)
    assert cfg["read_interval_s"] == 900 and cfg["apn"] == ""
    assert _problem({}) == (
        "device_id: missing (required); key: missing (required); "
        "server_host: missing (required); server_port: missing (required)"
    ), _problem({})


def test_every_bad_value_is_reported():
    bad = dict(OLD, key="xyz", server_port=0, read_interval_s=True, colour="red")
    problem = _problem(bad)
    for part in (
        "key: must be 16 or 32 bytes",
        "server_port: must be 1..65535",
        "read_interval_s: must be int",
        "colour: unknown setting",
    ):
        assert part in problem, (part, problem)
    assert "report_interval_s: must not be shorter" in _problem(dict(OLD, report_interval_s=60))


def test_save_and_load_round_trip_and_key_bytes():
    image = _fresh()
    flash.mount(flash.RamBlockDevice(image, 512), "/flash", create=False)
    cfg = config.load(PATH)
    assert cfg["server_host"] == "10.0.0.1" and config.key_bytes(cfg) == bytes(16)
    try:
        config.save(PATH, dict(OLD, server_port=70000))
    except config.ConfigError:
        pass
    assert config.load(PATH)["server_port"] == 5683, "an invalid config is never written"
    flash.umount("/flash")


def test_power_cut_at_every_write_of_a_save_leaves_old_or_new():
    base = _fresh()
    k = 0
    seen = set()
    image = bytearray(len(base))  # reused: one copy of the image per try, no new allocation
    while True:
        image[:] = base
        bdev = flash.RamBlockDevice(image, 512)
        flash.mount(bdev, "/flash", create=False)
        bdev.fail_at = k
        try:
            config.save(PATH, NEW)
            finished = True
        except OSError:
            finished = False
        flash.umount("/flash")
        flash.mount(flash.RamBlockDevice(image, 512), "/flash", create=False)
        cfg = config.load(PATH)
        flash.umount("/flash")
        assert cfg in (config.validate(OLD), config.validate(NEW)), (k, cfg)
        seen.add(cfg["server_port"])
        if finished:
            assert cfg["server_port"] == 9999, "a save that returned is durable"
            break
        k += 1
    assert seen == {5683, 9999} and k > 2, (seen, k)


def test_report_phase_is_within_the_report_interval():
    assert config.validate(OLD)["report_phase_s"] == 0
    assert config.validate(dict(OLD, report_phase_s=600))["report_phase_s"] == 600
    assert "report_phase_s: must be shorter" in _problem(dict(OLD, report_phase_s=14400))


def test_complete_writes_the_missing_defaults_into_the_file_and_keeps_the_rest():
    # a console-provisioned config may lack the optional settings: after the checked load of a
    # power-on, the file holds them all (a timer wake reads it without the validation)
    import json

    flash.mount(flash.RamBlockDevice(_fresh(), 512), "/flash", create=False)
    try:
        with open(PATH, "w") as f:
            f.write(json.dumps(dict(OLD, read_interval_s=600)))
        cfg = config.load(PATH)
        assert config.complete(PATH, cfg) is True
        with open(PATH) as f:
            saved = json.load(f)
        assert saved == cfg, "every setting, with its default where it had none"
        assert saved["read_interval_s"] == 600 and saved["apn"] == ""
        assert config.complete(PATH, config.load(PATH)) is False, "complete: not written again"
    finally:
        flash.umount("/flash")
