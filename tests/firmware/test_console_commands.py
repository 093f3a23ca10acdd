# The provisioning console answers every command in the documented format: data lines
# `key: value`, then OK or ERR <code> <message>. Runs in MicroPython on virtual time.
from console_kit import KEY_HEX, MODEM, Bench, data
from fake_config import digest
from nbkit.console.auth import key_fingerprint
from nbkit.proto.auth import hmac_sha256


def test_help_lists_every_command_and_ends_with_ok():
    reply = Bench().send("help")
    assert reply[-1] == "OK", reply
    names = [k for k, _ in data(reply)]
    for name in ("identify", "get", "set", "key", "selftest", "log", "factory-reset", "unlock"):
        assert name in names, names


def test_ping_echoes_its_token_without_unlocking():
    assert Bench().send("ping 7f3a") == ["pong: 7f3a", "OK"]


def test_identify_gives_firmware_device_and_modem_facts_without_unlock():
    reply = Bench().send("identify")
    got = dict(data(reply))
    assert reply[-1] == "OK", reply
    assert got["firmware"].startswith("nbkit "), got
    assert got["device_id"] == "wm-000042", got
    for key in ("model", "modem", "imei", "iccid", "imsi", "signal"):
        assert got[key] == MODEM[key], (key, got)


def test_identify_reports_a_silent_modem_as_an_error_after_what_it_knows():
    bench = Bench()

    def silent():
        raise OSError("AT timeout after 300 ms")

    bench.console.info = silent
    reply = bench.send("identify")
    assert reply[0].startswith("firmware: nbkit"), reply
    assert reply[-1] == "ERR 503 modem not answering: AT timeout after 300 ms", reply


def test_commands_that_touch_the_device_need_an_unlocked_session():
    bench = Bench()
    for line in (
        "get",
        "get apn",
        "set apn=x",
        "key fingerprint",
        "selftest",
        "log",
        "key set " + KEY_HEX,
        "factory-reset confirm",
    ):
        reply = bench.send(line)
        assert reply == ["ERR 401 locked: unlock <pin> or challenge/respond first"], (line, reply)
    assert bench.config.writes == 0 and bench.config.resets == 0
    assert bench.config.key_fingerprint() is None


def test_get_lists_the_configuration_and_one_key():
    bench = Bench()
    bench.unlock()
    reply = bench.send("get")
    assert reply[-1] == "OK", reply
    got = dict(data(reply))
    assert got["apn"] == "iot.nb" and got["bands"] == "8,20" and got["sample_s"] == "60", got
    assert bench.send("get server") == ["server: collector.example.net:5683", "OK"]
    assert bench.send("get nope") == ["ERR 404 unknown key nope"]


def test_set_changes_several_keys_at_once_and_shows_the_stored_values():
    bench = Bench()
    bench.unlock()
    reply = bench.send("set apn=cmnbiot bands=3,8 report_s=7200")
    assert reply == ["apn: cmnbiot", "bands: 3,8", "report_s: 7200", "OK"], reply
    assert bench.config.get("bands") == [3, 8]
    assert bench.send('set server="10.0.0.7:5683"') == ["server: 10.0.0.7:5683", "OK"]


def test_invalid_values_are_refused_with_the_reason_and_nothing_changes():
    bench = Bench()
    bench.unlock()
    before = digest(bench.config)
    cases = (
        ("set apn=ok.apn bands=3,99", "ERR 422 bands: '99' is not an NB-IoT band"),
        ("set sample_s=0", "ERR 422 sample_s: 0 out of range 1..3600"),
        ("set report_s=60 sample_s=120", "ERR 422 report_s: must not be shorter than sample_s"),
        ("set server=collector", "ERR 422 server: expected host:port"),
        ("set server=host:70000", "ERR 422 server: 70000 out of range 1..65535"),
        (
            "set heartbeat_s=soon",
            "ERR 422 heartbeat_s: expected a whole number from 3600 to 604800",
        ),
        ("set colour=blue", "ERR 422 colour: unknown key"),
        ("set apn", "ERR 400 expected key=value, got apn"),
        ("set =x", "ERR 400 expected key=value, got =x"),
        ("set apn=a apn=b", "ERR 400 apn given twice"),
        ("set", "ERR 400 usage: set key=value [key=value ...]"),
        ('set apn="a b', "ERR 400 unbalanced double quote"),
    )
    for line, expected in cases:
        assert bench.send(line) == [expected], (line, bench.send(line))
    assert digest(bench.config) == before
    assert bench.config.writes == 0


def test_key_set_answers_only_a_fingerprint_and_never_the_key():
    bench = Bench()
    bench.unlock()
    assert bench.send("key fingerprint") == ["fingerprint: none", "OK"]
    fp = key_fingerprint(bytes.fromhex(KEY_HEX))
    assert bench.send("key set " + KEY_HEX) == ["fingerprint: " + fp, "OK"]
    assert bench.send("KEY FINGERPRINT") == ["fingerprint: " + fp, "OK"]
    for bad in (KEY_HEX[:-1], KEY_HEX[:30], KEY_HEX + "00", KEY_HEX[:-2] + "zz"):
        reply = bench.send("key set " + bad)
        assert reply[-1].startswith("ERR 422 key: "), reply
    for line in ("get", "help", "identify", "log 100", "selftest"):
        bench.send(line)
    text = bytes(bench.output).decode().lower()
    assert KEY_HEX[:16] not in text and KEY_HEX[-16:] not in text, text
    assert bench.config.key_fingerprint() == fp


def test_selftest_reports_every_check_and_fails_when_one_fails():
    bench = Bench()
    bench.unlock()
    reply = bench.send("selftest")
    assert reply[-1] == "OK", reply
    assert [k for k, _ in data(reply)] == ["modem", "sim", "attach", "uplink", "sensor"]
    assert all(v.startswith("ok ") for _, v in data(reply)), reply

    def crash():
        raise OSError("no CEREG answer")

    bench.checks[1] = ("sim", lambda: (False, "SIM not inserted"))
    bench.checks[2] = ("attach", crash)
    reply = bench.send("selftest")
    got = dict(data(reply))
    assert got["sim"] == "fail SIM not inserted", got
    assert got["attach"] == "fail OSError: no CEREG answer", got
    assert got["sensor"].startswith("ok"), got
    assert reply[-1] == "ERR 503 selftest failed: sim,attach", reply


def test_log_shows_the_newest_events_bounded():
    bench = Bench(log=["event %d" % i for i in range(300)])
    bench.unlock()
    reply = bench.send("log")
    assert len(reply) == 21 and reply[-2] == "log: event 299", reply
    assert bench.send("log 2") == ["log: event 298", "log: event 299", "OK"]
    assert len(bench.send("log 100")) == 101
    assert bench.send("log 101") == ["ERR 400 log: n must be a number from 1 to 100"]
    assert bench.send("log x") == ["ERR 400 log: n must be a number from 1 to 100"]


def test_log_lines_cannot_fake_the_end_of_a_reply():
    bench = Bench(log=["modem said\r\nOK\r\nthen \x1b[2J"])
    bench.unlock()
    assert bench.send("log 1") == ["log: modem said??OK??then ?[2J", "OK"]


def test_factory_reset_needs_confirm_then_erases_and_locks():
    bench = Bench()
    bench.unlock()
    bench.send("set apn=custom")
    bench.send("key set " + KEY_HEX)
    assert bench.send("factory-reset") == [
        "ERR 400 erases configuration and key: type factory-reset confirm"
    ]
    assert bench.config.get("apn") == "custom"
    assert bench.send("factory-reset confirm") == ["OK"]
    assert bench.config.get("apn") == "iot.nb" and bench.config.key_fingerprint() is None
    assert bench.send("get apn")[-1].startswith("ERR 401"), "session stays open after reset"


def test_exit_locks_the_session():
    bench = Bench()
    bench.unlock()
    assert bench.send("exit") == ["OK"]
    assert bench.send("get apn")[-1].startswith("ERR 401")


def test_unknown_commands_and_bad_usage_get_clear_errors():
    bench = Bench()
    assert bench.send("reboot now") == ["ERR 404 unknown command reboot (try help)"]
    assert bench.send("__init__") == ["ERR 404 unknown command __init__ (try help)"]
    assert bench.send("identify please") == ["ERR 400 usage: identify"]
    assert bench.send("unlock") == ["ERR 400 usage: unlock <pin>"]
    bench.unlock()
    assert bench.send("key") == ["ERR 400 usage: key set <hex> | key fingerprint"]
    assert bench.send("get a b") == ["ERR 400 usage: get [key]"]


def test_a_crashing_provider_is_an_error_and_the_console_keeps_answering():
    bench = Bench()
    bench.unlock()

    def broken(n):
        raise RuntimeError("flash read failed")

    bench.console.log_reader = broken
    assert bench.send("log") == ["ERR 500 internal error: RuntimeError"]
    assert bench.send("ping") == ["pong: ", "OK"]


def test_challenge_response_with_the_device_key_unlocks():
    bench = Bench()
    assert bench.send("challenge") == ["ERR 503 no device key set: challenge-response unavailable"]
    bench.unlock()
    bench.send("key set " + KEY_HEX)
    bench.send("exit")
    reply = bench.send("challenge")
    nonce = bytes.fromhex(data(reply)[0][1])
    assert len(nonce) == 16, reply
    mac = hmac_sha256(bytes.fromhex(KEY_HEX), nonce)
    assert bench.send("respond " + mac.hex()) == ["OK"]
    assert bench.send("get apn") == ["apn: iot.nb", "OK"]


def test_a_challenge_answers_once_and_expires():
    bench = Bench()
    bench.unlock()
    bench.send("key set " + KEY_HEX)
    bench.send("exit")
    key = bytes.fromhex(KEY_HEX)
    nonce = bytes.fromhex(data(bench.send("challenge"))[0][1])
    mac = hmac_sha256(key, nonce).hex()
    assert bench.send("respond " + "00" * 32)[-1].startswith("ERR 403 wrong response")
    assert bench.send("respond " + mac) == [
        "ERR 400 no open challenge: ask for one with challenge"
    ], "a nonce must not be usable after a wrong answer"
    nonce = bytes.fromhex(data(bench.send("challenge"))[0][1])
    bench.clock.advance(61000)
    assert bench.send("respond " + hmac_sha256(key, nonce).hex())[-1].startswith("ERR 400")
    assert bench.send("respond xyz") == ["ERR 400 respond: expected hex digits"]
