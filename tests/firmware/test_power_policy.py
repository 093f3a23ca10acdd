# Modem power policy: PSM fallback, PSM entry detection, re-attach only when really lost, and the
# AT commands of one report after a wake from PSM. Pure decisions, on virtual time.
from nbkit.app import power as P
from nbkit.hal.clock import ManualClock
from nbkit.hal.sleep import ClockSleep, MachineSleep

HEAPSIZE = "64K"


def test_granted_psm_means_let_the_modem_sleep_whatever_the_fallback():
    for fb in P.FALLBACKS:
        assert P.after_report(True, fb) == P.ACTION_PSM


def test_denied_psm_applies_the_configured_fallback():
    assert P.after_report(False, "cfun0") == P.ACTION_CFUN0
    assert P.after_report(False, "stay") == P.ACTION_STAY
    # straight from the +CEREG n=4 fields: unit 111 active time = denied
    assert P.after_report_from_cereg("11100000", "01000111", "cfun0") == P.ACTION_CFUN0
    assert P.after_report_from_cereg("00000101", "01000111", "cfun0") == P.ACTION_PSM


def test_auto_fallback_powers_down_for_rare_reports_and_stays_for_frequent_ones():
    assert P.after_report(False, "auto", 86400) == P.ACTION_CFUN0  # 9.6 mAh idle vs 0.3 attach
    assert P.after_report(False, "auto", 900) == P.ACTION_STAY  # 0.1 mAh idle vs 0.3 attach


def test_auto_with_a_long_edrx_granted_stays_registered_for_a_4_h_meter_not_a_daily_one():
    edrx = (2621440, 10240)  # 2621.44 s cycle, 10.24 s paging window
    # idle 0.4 mA for 10.24 s of each 2621 s + the 3 uA floor, and a TAU (0.04 mAh) every 54 min
    assert 0.19 < P.stay_mah(4 * 3600, edrx=edrx) < 0.2, P.stay_mah(4 * 3600, edrx=edrx)
    assert P.after_report(False, "auto", 4 * 3600, edrx) == P.ACTION_STAY  # vs 0.3 an attach
    assert P.after_report(False, "auto", 4 * 3600) == P.ACTION_CFUN0  # idle DRX: 1.8 mAh
    assert P.after_report(False, "auto", 86400, edrx) == P.ACTION_CFUN0  # 27 TAUs a day
    assert P.after_report(False, "cfun0", 4 * 3600, edrx) == P.ACTION_CFUN0  # as configured


class _EdrxModem:
    # what when_psm_denied uses of a driver: edrx_granted() and ask_edrx(cycle_s)
    def __init__(self, grants):
        self.grants, self.asked = grants, []

    def edrx_granted(self):
        return self.grants and (2621440, 10240)

    def ask_edrx(self, cycle_s):
        self.asked.append(cycle_s)
        return True


def test_psm_denied_asks_for_edrx_once_then_chooses_by_the_grant():
    modem = _EdrxModem(grants=True)
    assert P.when_psm_denied(modem, "auto", 4 * 3600) == P.ACTION_STAY
    assert modem.asked == [], modem.asked  # already granted: nothing asked again
    refused = _EdrxModem(grants=False)  # the network grants no eDRX either
    assert P.when_psm_denied(refused, "auto", 4 * 3600) == P.ACTION_CFUN0
    assert refused.asked == [P.EDRX_ASK_S], refused.asked
    assert P.when_psm_denied(object(), "auto", 900) == P.ACTION_STAY  # no eDRX API: idle DRX
    assert P.when_psm_denied(_EdrxModem(True), "cfun0", 4 * 3600) == P.ACTION_CFUN0


def test_unknown_fallback_is_a_clear_error():
    try:
        P.after_report(False, "sleep")
    except ValueError as exc:
        assert "cfun0" in str(exc), str(exc)
        return
    raise AssertionError("accepted an unknown fallback")


def test_reattach_only_when_registration_is_really_lost():
    assert P.registration_action(1) == P.SEND
    assert P.registration_action(5) == P.SEND
    assert P.registration_action(2, searching_s=30) == P.WAIT
    assert P.registration_action(4, searching_s=30) == P.WAIT
    assert P.registration_action(2, searching_s=200, search_limit_s=120) == P.ATTACH
    assert P.registration_action(0) == P.ATTACH
    assert P.registration_action(3) == P.BACKOFF
    assert P.registration_action(1, powered_down=True) == P.ATTACH


def test_a_report_after_a_wake_from_psm_costs_one_air_command():
    plan = P.report_plan(P.SEND, socket_open=True, expect_reply=False)
    assert P.air_commands(plan) == 1, plan
    assert plan[-1][0].startswith("AT+NSOSTF=") and ",0x200," in plan[-1][0], plan
    plan = P.report_plan(P.SEND, socket_open=True, expect_reply=True)
    assert P.air_commands(plan) == 1, plan
    assert ",0x400," in plan[-2][0] and plan[-1] == ("AT+NSORF", False), plan


def test_a_report_after_losing_registration_attaches_first():
    plan = P.report_plan(P.ATTACH)
    assert P.air_commands(plan) == 3, plan
    assert ("AT+NSOCR", False) in plan
    assert P.air_commands(P.report_plan(P.WAIT)) == 0


def test_psm_watch_sees_cscon0_then_npsmr1():
    clock = ManualClock()
    w = P.PsmWatch(clock, active_s=10)
    assert w.feed("+CSCON:1") and w.state == P.CONNECTED
    assert w.feed("+CSCON: 0") and w.state == P.IDLE
    clock.advance(9000)
    assert not w.missed()
    assert w.feed(b"+NPSMR:1\r\n") and w.in_psm()
    assert not w.feed("+NSONMI:1,12")
    assert w.feed("+NPSMR:0") and w.state == P.AWAKE


def test_psm_watch_reports_a_missed_psm_entry_after_active_time_and_margin():
    clock = ManualClock()
    w = P.PsmWatch(clock, active_s=10, margin_s=5)
    w.feed("+CSCON:0")
    clock.advance(15000)
    assert not w.missed()
    clock.advance(1)
    assert w.missed()
    w.feed("+CSCON:1")  # traffic again: start over
    assert not w.missed()


def test_psm_watch_without_a_grant_is_missed_at_once():
    w = P.PsmWatch(ManualClock(), active_s=None)
    w.feed("+CSCON:0")
    assert w.missed()


def test_sleep_backends():
    clock = ManualClock()
    s = ClockSleep(clock)
    s.deepsleep(5000)
    s.lightsleep(250)
    s.deepsleep(0)
    s.lightsleep(-3)
    assert (clock.ticks_ms(), s.deep_ms, s.light_ms) == (5250, 5000, 250)

    class FakeMachine:
        calls = []

        def deepsleep(self, ms):
            self.calls.append(("deep", ms))

        def lightsleep(self, ms):
            self.calls.append(("light", ms))

    m = FakeMachine()
    ms = MachineSleep(m)
    ms.deepsleep(1000)
    ms.lightsleep(20)
    ms.deepsleep(0)  # never machine.deepsleep(0): that is "forever" on some ports
    assert m.calls == [("deep", 1000), ("light", 20)], m.calls


def test_power_requests_go_before_attach_with_the_urcs_that_report_the_grant():
    cmds, tau, active, edrx_ms = P.pre_attach_commands(70 * 3600, 10)
    assert cmds == [
        "AT+CEREG=4",
        "AT+CSCON=1",
        "AT+NPSMR=1",
        'AT+CPSMS=1,,,"01000111","00000101"',
        "AT+CEDRXS=0,5",
    ], cmds
    assert (tau, active, edrx_ms) == (70 * 3600, 10, None)
    cmds, _, _, edrx_ms = P.pre_attach_commands(3600, 45, 60, 10)
    assert cmds[-1] == 'AT+NPTWEDRXS=2,5,"0011","0101"' and edrx_ms == 81920, cmds
    assert P.pre_attach_commands(3600, 4, 20)[0][-1] == 'AT+CEDRXS=2,5,"0010"'
