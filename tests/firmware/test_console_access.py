# Access to the provisioning console: per-device service PIN, exponential lockout after wrong
# attempts on virtual time, sessions that expire, HMAC-SHA256 (nbkit.proto.auth, shared with
# the frames) for the challenge response.
from console_kit import PIN, Attempts, Bench
from nbkit.proto.auth import hmac_sha256


def test_hmac_sha256_matches_rfc_4231():
    # RFC 4231 test cases 1, 2 and 6 (a key longer than the block)
    key1 = b"\x0b" * 20
    assert hmac_sha256(key1, b"Hi There").hex() == (
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    )
    assert hmac_sha256(b"Jefe", b"what do ya want for nothing?").hex() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    msg = b"Test Using Larger Than Block-Size Key - Hash Key First"
    assert hmac_sha256(b"\xaa" * 131, msg).hex() == (
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    )


def test_the_right_pin_unlocks_and_a_wrong_one_is_refused():
    bench = Bench()
    assert bench.send("unlock 000000") == ["ERR 403 wrong PIN (1 wrong in a row)"]
    assert bench.send("get apn")[-1].startswith("ERR 401")
    assert bench.send("unlock " + PIN) == ["OK"]
    assert bench.send("get apn") == ["apn: iot.nb", "OK"]


def test_wrong_pins_lock_out_for_exponentially_longer_on_virtual_time():
    bench = Bench()
    for i in range(1, 4):
        assert bench.send("unlock 1111") == ["ERR 403 wrong PIN (%d wrong in a row)" % i]
    # three wrong: 30 s lockout in which even the right PIN is not looked at
    assert bench.send("unlock " + PIN) == ["ERR 429 locked out, retry in 30 s"]
    bench.clock.advance(29000)
    assert bench.send("unlock " + PIN) == ["ERR 429 locked out, retry in 1 s"]
    bench.clock.advance(1000)
    assert bench.send("unlock 2222") == ["ERR 403 wrong PIN (4 wrong in a row)"]
    assert bench.send("unlock " + PIN) == ["ERR 429 locked out, retry in 60 s"]
    bench.clock.advance(60000)
    assert bench.send("unlock 3333")[-1].startswith("ERR 403")
    assert bench.send("unlock " + PIN) == ["ERR 429 locked out, retry in 120 s"]
    bench.clock.advance(120000)
    assert bench.send("unlock " + PIN) == ["OK"]
    assert bench.console.guard.failures == 0, "a success clears the count"


def test_the_lockout_is_capped_at_an_hour():
    bench = Bench()
    for _ in range(20):
        bench.send("unlock 0")
        bench.clock.advance(4000 * 1000)
    bench.send("unlock 0")
    assert bench.send("unlock " + PIN) == ["ERR 429 locked out, retry in 3600 s"]


def test_wrong_challenge_responses_count_towards_the_same_lockout():
    bench = Bench()
    bench.unlock()
    bench.send("key set " + "ab" * 16)
    bench.send("exit")
    for _ in range(3):
        bench.send("challenge")
        assert bench.send("respond " + "00" * 32)[-1].startswith("ERR 403")
    bench.send("challenge")
    assert bench.send("respond " + "00" * 32)[-1].startswith("ERR 429")


def test_an_idle_session_locks_itself_and_activity_keeps_it_open():
    bench = Bench()
    bench.unlock()
    for _ in range(5):
        bench.clock.advance(200 * 1000)
        assert bench.send("get apn")[-1] == "OK"
    bench.clock.advance(300 * 1000)
    assert bench.send("get apn")[-1].startswith("ERR 401")


def test_a_device_without_a_pin_only_unlocks_by_challenge_response():
    bench = Bench(pin=None)
    assert bench.send("unlock 0000") == ["ERR 400 PIN unlock disabled on this device"]


def test_the_pin_is_never_echoed():
    bench = Bench()
    bench.send("unlock " + PIN)
    bench.send("unlock 9" + PIN)
    bench.send("help")
    assert PIN not in bytes(bench.output).decode()


def test_a_power_cycle_does_not_lift_a_lockout():
    attempts = Attempts()
    bench = Bench(attempts=attempts)
    for _ in range(3):
        bench.send("unlock 0")
    bench.clock.advance(30000)
    bench.send("unlock 0")
    assert attempts.count == 4, attempts.count
    rebooted = Bench(attempts=attempts)  # fresh RAM, fresh clock, same flash
    assert rebooted.send("unlock " + PIN) == ["ERR 429 locked out, retry in 60 s"]
    rebooted.clock.advance(60000)
    assert rebooted.send("unlock " + PIN) == ["OK"]
    assert attempts.count == 0
    saves = attempts.saves
    rebooted.send("exit")
    rebooted.send("unlock " + PIN)
    # a right PIN writes exactly like a wrong one until the compare (count+1 first, then 0):
    # whether and when the flash is written tells nothing about the guess (issue 16, finding 3)
    assert attempts.saves == saves + 2 and attempts.count == 0, attempts.saves


def test_every_attempt_is_on_flash_before_the_compare():
    seen = []

    class Recording(Attempts):
        def save(self, n):
            seen.append(("save", n, bench.console.guard.is_unlocked()))
            Attempts.save(self, n)

    bench = Bench(attempts=Recording())
    assert bench.send("unlock 0000")[0].startswith("ERR 403")
    assert seen == [("save", 1, False)], seen
    del seen[:]
    assert bench.send("unlock " + PIN) == ["OK"]
    assert seen == [("save", 2, False), ("save", 0, False)], seen
    assert bench.console.guard.is_unlocked()


def test_a_failed_count_write_gives_no_verdict():
    class Dead(Attempts):
        def save(self, n):
            raise OSError(5)  # the power went at the write: nothing after it runs

    bench = Bench(attempts=Dead())
    assert bench.send("unlock " + PIN) == ["ERR 500 internal error: OSError"]
    assert not bench.console.guard.is_unlocked()


def test_sessions_expire_on_time_even_without_commands():
    bench = Bench()
    bench.unlock()
    for _ in range(301):
        bench.console.poll(1000)  # the serve loop: waits of 1 s, nothing typed
    assert bench.console.guard._unlocked_at is None
