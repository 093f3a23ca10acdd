# A power cut during a configuration write from the console (`set k=v` through the real store
# adapter on littlefs), at EVERY flash write index: after the reboot the device loads the old or
# the new configuration, never a broken one; an `OK` answer means the new one is durable.
from nbkit.store import config
from store_bench import FACTORY, StoreBench, mount, new_image, stored, umount

HEAPSIZE = "256K"
TIMEOUT_S = 60
NEW = dict(FACTORY, server_port=9999, apn="iot.nb", read_interval_s=600)


def test_power_cut_at_every_write_of_a_console_set_leaves_old_or_new():
    base = new_image()
    old, new = config.validate(FACTORY), config.validate(NEW)
    image = bytearray(len(base))
    k = 0
    seen = {}
    while True:
        image[:] = base
        bdev = mount(image)
        bench = StoreBench()
        bench.unlock()
        bdev.fail_at = bdev.writes + k
        reply = bench.send("set server_port=9999 apn=iot.nb read_interval_s=600")
        cut = bdev.dead
        try:
            umount()
        except OSError:
            pass  # the power is gone: nothing more reaches the flash
        mount(image)  # reboot on what the flash holds
        cfg = stored()
        umount()
        assert cfg in (old, new), (k, reply, cfg)
        if reply[-1] == "OK":
            assert cfg == new, ("an OK is durable", k, cfg)
        else:
            assert cut and reply[-1].startswith("ERR 500"), (k, reply)
        seen[cfg == new] = seen.get(cfg == new, 0) + 1
        if not cut:
            break
        k += 1
    print("power cut at", k, "write indexes: old", seen.get(False), "new", seen.get(True))
    assert k >= 3 and seen.get(False) and seen.get(True), (k, seen)


def test_power_cut_at_every_write_of_key_set_and_factory_reset_leaves_a_loadable_file():
    base = new_image()
    for line in ("key set " + "ab" * 32, "factory-reset confirm"):
        k = 0
        while True:
            image = bytearray(base)
            bdev = mount(image)
            bench = StoreBench()
            bench.unlock()
            bdev.fail_at = bdev.writes + k
            bench.send(line)
            cut = bdev.dead
            try:
                umount()
            except OSError:
                pass
            mount(image)
            cfg = stored()
            umount()
            ok = cfg == config.validate(FACTORY) or (
                line.startswith("key") and cfg["key"] == "ab" * 32
            )
            ok = ok or (line.startswith("factory") and "missing (required)" in cfg)
            assert ok, (line, k, cfg)
            if not cut:
                break
            k += 1
            image = None
        assert k >= 2, (line, k)
