# engine.wait_until: a wait that ends the moment a URC makes its condition true.
from fakes import modem


def test_wait_until_returns_when_a_urc_makes_the_condition_true():
    engine, fake, clock = modem()
    seen = []
    engine.on_urc("+CEREG:", lambda line, data: seen.append(line))
    fake.send(b"\r\n+CEREG:1\r\n", after_ms=300)
    start = clock.ticks_ms()
    assert engine.wait_until(lambda: bool(seen), 5000)
    assert clock.ticks_diff(clock.ticks_ms(), start) < 1000, clock.ticks_ms() - start
    assert seen == ["+CEREG:1"], seen


def test_wait_until_gives_up_after_its_time_without_the_condition():
    engine, fake, clock = modem()
    start = clock.ticks_ms()
    assert not engine.wait_until(lambda: False, 2000)
    assert clock.ticks_diff(clock.ticks_ms(), start) >= 2000
