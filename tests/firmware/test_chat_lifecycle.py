# Chat scripts (dialogs as data) and the modem lifecycle state machine.
from fakes import Later, modem
from nbkit.at import chat
from nbkit.modem import lifecycle as lc

OK = b"\r\nOK\r\n"


def test_script_success_counts_commands():
    engine, fake, _ = modem()
    script = chat.Script("init", (("ATE0", None, 300), ("AT+CMEE=1", None, 300)))
    fake.expect(b"ATE0\r", OK).expect(b"AT+CMEE=1\r", OK)
    out = chat.run(engine, script)
    assert out.status == chat.SUCCESS and out.commands == 2 and out.step == 1, out
    fake.verify()


def test_script_polls_until_the_expected_reply_with_capped_attempts():
    engine, fake, clock = modem()
    script = chat.Script("attach", (("AT+CGATT?", "+CGATT:1", 300, 5),), retry_ms=1000)
    fake.expect(b"AT+CGATT?\r", b"\r\n+CGATT:0\r\n" + OK)
    fake.expect(b"AT+CGATT?\r", b"\r\n+CGATT: 0\r\n" + OK)
    fake.expect(b"AT+CGATT?\r", b"\r\n+CGATT: 1\r\n" + OK)
    out = chat.run(engine, script)
    assert out.ok and out.commands == 3 and out.reply.lines == ["+CGATT: 1"], out
    assert clock.ticks_ms() == 2000, clock.ticks_ms()
    assert engine.dropped == 0, engine.counters()


def test_script_gives_timeout_when_attempts_run_out():
    engine, fake, _ = modem()
    script = chat.Script("attach", (("AT+CGATT?", "+CGATT:1", 300),), attempts=2, retry_ms=10)
    fake.expect(b"AT+CGATT?\r", b"\r\n+CGATT:0\r\n" + OK)
    fake.expect(b"AT+CGATT?\r")  # no answer at all
    out = chat.run(engine, script)
    assert out.status == chat.TIMEOUT and out.step == 0, out
    fake.verify()


def test_abort_match_stops_at_once_without_retry():
    engine, fake, _ = modem()
    script = chat.Script(
        "s", (("AT+CFUN=1", None, 300), ("AT+X", None, 300)), abort=("+CME ERROR: 3",), attempts=3
    )
    fake.expect(b"AT+CFUN=1\r", b"\r\n+CME ERROR: 3\r\n")
    out = chat.run(engine, script)
    assert out.status == chat.ABORT and out.commands == 1, out
    fake.verify()


def test_error_is_retried_then_aborts_when_attempts_run_out():
    engine, fake, _ = modem()
    script = chat.Script("s", (("AT+X", None, 300),), attempts=2, retry_ms=10)
    fake.expect(b"AT+X\r", b"\r\nERROR\r\n").expect(b"AT+X\r", b"\r\nERROR\r\n")
    assert chat.run(engine, script).status == chat.ABORT
    fake.expect(b"AT+X\r", b"\r\nERROR\r\n").expect(b"AT+X\r", OK)
    assert chat.run(engine, script).status == chat.SUCCESS
    fake.verify()


def test_bare_line_expectation_takes_the_imei_line():
    engine, fake, _ = modem()
    script = chat.Script("id", (("AT+CGSN", "", 300),))
    fake.expect(b"AT+CGSN\r", b"\r\n867726031076062\r\n" + OK)
    assert chat.run(engine, script).reply.lines == ["867726031076062"]


def test_urcs_during_retry_pauses_are_routed():
    engine, fake, _ = modem()
    seen = []
    engine.on_urc("+CEREG:", lambda line, data: seen.append(line))
    script = chat.Script("s", (("AT+CGATT?", "+CGATT:1", 300, 2),), retry_ms=1000)
    fake.expect(b"AT+CGATT?\r", b"\r\n+CGATT:0\r\n" + OK, Later(500, b"\r\n+CEREG:2\r\n"))
    fake.expect(b"AT+CGATT?\r", b"\r\n+CGATT:1\r\n" + OK)
    assert chat.run(engine, script).ok
    assert seen == ["+CEREG:2"], seen


def _recorded():
    life = lc.Lifecycle(max_failures=2)
    got = []
    life.subscribe(lambda old, new, ev: got.append((old, new, ev)))
    return life, got


def test_lifecycle_happy_path_and_names_are_printable():
    life, got = _recorded()
    for ev in (lc.EV_POWER_ON, lc.EV_BOOTED, lc.EV_CONFIGURED, lc.EV_REGISTERED):
        life.event(ev)
    life.event(lc.EV_RRC_CONNECTED)
    life.event(lc.EV_RRC_IDLE)
    life.event(lc.EV_PSM_ENTER)
    life.event(lc.EV_PSM_EXIT)
    path = " ".join(new for _, new, _ in got)
    assert path == "booting configuring searching registered connected idle psm idle", path
    assert got[3] == ("searching", "registered", "registered"), got


def test_lifecycle_delivers_changes_only():
    life, got = _recorded()
    life.event(lc.EV_POWER_ON)
    life.event(lc.EV_POWER_ON)
    life.event(lc.EV_BOOTED)
    life.event(lc.EV_REGISTERED)
    life.event(lc.EV_REGISTERED)  # a repeated +CEREG:1
    life.event(lc.EV_RRC_IDLE)
    life.event(lc.EV_RRC_IDLE)
    assert len(got) == 4 and life.changes == 4, got


def test_lifecycle_deregistration_and_unexpected_reboot():
    life, got = _recorded()
    for ev in (lc.EV_POWER_ON, lc.EV_BOOTED, lc.EV_CONFIGURED, lc.EV_REGISTERED):
        life.event(ev)
    assert life.event(lc.EV_DEREGISTERED) == lc.SEARCHING
    assert life.event(lc.EV_REGISTERED) == lc.REGISTERED
    assert life.event(lc.EV_BANNER) == lc.REBOOTED
    assert life.event(lc.EV_BOOTED) == lc.CONFIGURING
    assert not life.online


def test_lifecycle_own_reboot_stays_booting():
    life, _ = _recorded()
    life.event(lc.EV_POWER_ON)
    assert life.event(lc.EV_BANNER) == lc.BOOTING


def test_lifecycle_failures_are_capped_into_error_and_reset_by_registration():
    life, got = _recorded()
    life.event(lc.EV_POWER_ON)
    assert life.fail() and life.fail(), life.failures
    assert not life.fail() and life.state == lc.ERROR, life.state
    assert got[-1] == (lc.BOOTING, lc.ERROR, lc.EV_FAILED), got
    assert life.event(lc.EV_REGISTERED) == lc.ERROR  # only power-on leaves error
    life.event(lc.EV_POWER_ON)
    life.event(lc.EV_BOOTED)
    life.event(lc.EV_REGISTERED)
    assert life.failures == 0 and life.state == lc.REGISTERED


def test_lifecycle_ignores_radio_events_before_registration():
    life, got = _recorded()
    life.event(lc.EV_POWER_ON)
    life.event(lc.EV_RRC_CONNECTED)
    life.event(lc.EV_PSM_ENTER)
    assert life.state == lc.BOOTING and len(got) == 1, got


def test_lifecycle_remembers_rrc_connected_from_before_registration():
    # The emulator and real modules raise +CSCON:1 while the attach is still going on.
    life, got = _recorded()
    for ev in (lc.EV_POWER_ON, lc.EV_BOOTED, lc.EV_CONFIGURED, lc.EV_RRC_CONNECTED):
        life.event(ev)
    assert life.state == lc.SEARCHING, life.state
    life.event(lc.EV_REGISTERED)
    assert [new for _, new, _ in got][-2:] == [lc.REGISTERED, lc.CONNECTED], got
    assert life.event(lc.EV_RRC_IDLE) == lc.IDLE
