# The provisioning console on the real config store (nbkit.console.store_adapter): typed text
# in, validated config on flash out, secrets write-only, all or nothing, PIN from the config,
# wrong attempts kept across a reboot, factory reset keeps only the PIN.
from nbkit.console.auth import key_fingerprint
from nbkit.proto.auth import hmac_sha256
from store_bench import FACTORY, KEY_HEX, PATH, PIN, StoreBench, mount, new_image, stored, umount

HEAPSIZE = "192K"


def test_get_lists_the_stored_config_without_secrets():
    mount(new_image())
    bench = StoreBench()
    bench.unlock()
    reply = bench.send("get")
    assert reply[-1] == "OK", reply
    assert "device_id: 42" in reply and "server_host: 10.0.0.1" in reply, reply
    assert "service_pin: (set)" in reply and "read_interval_s: 900" in reply, reply
    text = "\n".join(reply)
    assert KEY_HEX not in text and PIN not in text and not text.count("key:"), reply
    assert bench.send("get key") == ["ERR 404 unknown key key"]
    umount()


def test_set_converts_text_validates_and_saves_atomically():
    mount(new_image())
    bench = StoreBench()
    bench.unlock()
    reply = bench.send("set server_port=9999 apn=iot.nb")
    assert reply == ["server_port: 9999", "apn: iot.nb", "OK"], reply
    assert stored()["server_port"] == 9999 and stored()["apn"] == "iot.nb"
    umount()


def test_an_invalid_value_changes_nothing_and_says_why():
    mount(new_image())
    bench = StoreBench()
    bench.unlock()
    cases = (
        ("set server_port=0 apn=x", "ERR 422 server_port: must be 1..65535"),
        ("set server_port=abc", "ERR 422 server_port: expected a whole number, got abc"),
        ("set colour=red", "ERR 422 colour: unknown setting"),
        ("set key=" + KEY_HEX, "ERR 422 key: write-only, use key set <hex>"),
        ("set report_interval_s=60", "ERR 422 report_interval_s: must not be shorter"),
        ("set service_pin=12", "ERR 422 service_pin: must be 4 to 12 digits"),
    )
    for line, expected in cases:
        reply = bench.send(line)
        assert len(reply) == 1 and reply[0].startswith(expected), (line, reply)
    assert stored() == __import__("nbkit.store.config").store.config.validate(FACTORY)
    assert bench.store.writes == 0
    umount()


def test_the_pin_comes_from_the_config_and_challenge_uses_the_device_key():
    mount(new_image())
    bench = StoreBench()
    assert bench.send("unlock 0000")[0].startswith("ERR 403")
    nonce = bench.send("challenge")[0].split(": ")[1]
    mac = hmac_sha256(bytes.fromhex(KEY_HEX), bytes.fromhex(nonce)).hex()
    assert bench.send("respond " + mac) == ["OK"]
    assert bench.send("key fingerprint") == [
        "fingerprint: " + key_fingerprint(bytes.fromhex(KEY_HEX)),
        "OK",
    ]
    umount()


def test_key_set_stores_the_key_as_the_device_uses_it():
    mount(new_image())
    bench = StoreBench()
    bench.unlock()
    new = "ab" * 32
    reply = bench.send("key set " + new)
    assert reply == ["fingerprint: " + key_fingerprint(bytes.fromhex(new)), "OK"], reply
    assert stored()["key"] == new
    assert bench.send("key set " + "cd" * 20) == ["ERR 422 key: refused by the key store"]
    assert stored()["key"] == new
    umount()


def test_wrong_attempts_survive_a_reboot():
    image = new_image()
    mount(image)
    bench = StoreBench()
    for _ in range(3):
        assert bench.send("unlock 1111")[0].startswith("ERR 403")
    umount()
    mount(image)  # power cycle: a new console on the same flash starts locked out
    bench = StoreBench()
    assert bench.send("unlock " + PIN) == ["ERR 429 locked out, retry in 30 s"]
    bench.clock.advance(30000)
    bench.unlock()
    umount()


def test_factory_reset_keeps_the_pin_and_the_device_is_unprovisioned_until_complete():
    mount(new_image())
    bench = StoreBench()
    bench.unlock()
    assert bench.send("factory-reset confirm") == ["OK"]
    assert "missing (required)" in stored(), stored()
    bench.unlock()  # the PIN is kept: the technician gets back in
    assert bench.send("key fingerprint") == ["fingerprint: none", "OK"]
    assert bench.send("set device_id=7 server_host=10.1.1.1") == [
        "device_id: 7",
        "server_host: 10.1.1.1",
        "OK",
    ]
    assert bench.send("set server_port=x")[0].startswith("ERR 422 server_port")
    assert bench.send("set server_port=5683") == ["server_port: 5683", "OK"]
    assert "key: missing" in stored(), stored()
    assert bench.send("key set " + KEY_HEX)[-1] == "OK"
    cfg = stored()
    assert cfg["device_id"] == 7 and cfg["service_pin"] == PIN, cfg
    umount()


def test_exit_locks_a_session_and_ends_the_window_only_when_locked():
    mount(new_image())
    bench = StoreBench()
    bench.unlock()
    assert bench.send("exit") == ["OK"] and not bench.console.done
    assert bench.send("get")[0].startswith("ERR 401")
    assert bench.send("exit now") == ["ERR 400 usage: exit"] and not bench.console.done
    assert bench.send("exit") == ["OK"] and bench.console.done
    umount()


def test_the_log_shows_console_changes_never_values():
    mount(new_image())
    bench = StoreBench()
    bench.unlock()
    bench.send("set apn=iot.nb")
    bench.send("set service_pin=123456")
    bench.send("key set " + "ab" * 16)
    reply = bench.send("log 5")
    assert reply[-1] == "OK" and len(reply) == 4, reply
    assert reply[0].endswith(" service: set apn"), reply
    assert reply[1].endswith(" service: set service_pin"), reply
    assert reply[2].endswith(" service: device key replaced"), reply
    assert "123456" not in "".join(reply) and "abab" not in "".join(reply), reply
    umount()


def _file_text():
    with open(PATH) as f:
        return f.read()


def test_the_service_pin_is_stored_only_as_a_salted_slow_hash():
    # issue 16, finding 1/2: config.json used to hold the PIN in clear
    mount(new_image())
    bench = StoreBench()
    assert PIN in _file_text()  # a host-made config gives it in clear ...
    assert bench.store.protect_pin() is True  # ... the first power-on window hashes it
    text = _file_text()
    assert PIN not in text and "pbkdf2-sha256$4096$" in text, text
    assert bench.store.protect_pin() is False, "hashed once"
    bench = StoreBench()  # the next boot unlocks with the hash
    bench.unlock()
    assert bench.send("set service_pin=735102") == ["service_pin: (set)", "OK"]
    text = _file_text()
    assert "735102" not in text and text.count("pbkdf2-sha256$") == 1, text
    salt = text.split("pbkdf2-sha256$4096$")[1][:32]
    bench = StoreBench()  # a new PIN counts from the next window
    assert bench.send("unlock " + PIN)[0].startswith("ERR 403")
    assert bench.send("unlock 735102") == ["OK"]
    bench.send("set service_pin=735102")
    assert salt not in _file_text(), "a fresh salt for every new PIN"
    reply = bench.send("set service_pin=pbkdf2-sha256$1$00$00")
    assert reply[0].startswith("ERR 422"), reply
    umount()


def test_a_damaged_pin_hash_leaves_challenge_response():
    cfg = dict(FACTORY, service_pin="pbkdf2-sha256$4096$zz$00")
    mount(new_image(cfg))
    bench = StoreBench()
    assert bench.send("unlock " + PIN)[0] == "ERR 400 PIN unlock disabled on this device"
    nonce = bench.send("challenge")[0].split(": ")[1]
    from binascii import hexlify, unhexlify

    mac = hexlify(hmac_sha256(unhexlify(KEY_HEX), unhexlify(nonce))).decode()
    assert bench.send("respond " + mac) == ["OK"]
    umount()


def test_the_device_key_moves_to_its_own_file_and_the_device_keeps_working():
    # issue 16, finding 1/2: config.json (readable by anyone with a REPL) held the key
    from nbkit.store import config

    mount(new_image())
    assert KEY_HEX in _file_text()  # a host-made config carries it
    bench = StoreBench()
    before = bench.store.key_fingerprint()
    assert bench.store.move_key() is True
    assert KEY_HEX not in _file_text() and "key" not in _file_text()
    with open(config.key_path(PATH)) as f:
        assert f.read() == KEY_HEX
    assert stored()["key"] == KEY_HEX, "the meter cycle loads it from its file"
    assert bench.store.move_key() is False, "moved once"
    bench = StoreBench()
    bench.unlock()
    assert bench.send("key fingerprint") == ["fingerprint: " + before, "OK"]
    assert bench.send("set apn=iot.nb") == ["apn: iot.nb", "OK"]
    assert "key" not in _file_text(), "a set keeps the key out of config.json"
    reply = bench.send("get")
    assert reply[-1] == "OK" and KEY_HEX not in "".join(reply)
    assert bench.send("key set " + "cd" * 32)[-1] == "OK"
    assert stored()["key"] == "cd" * 32 and "cd" * 32 not in _file_text()
    assert bench.send("factory-reset confirm") == ["OK"]
    assert config.read_key(PATH) is None, "factory reset erases the key file"
    umount()
