# Scenarios across the power pieces: the network grants other timers than requested, or denies
# PSM; the scheduler and the policy follow what was GRANTED. Virtual time (ManualClock).
from nbkit.app import power as P
from nbkit.app import scheduler as S
from nbkit.hal.clock import ManualClock
from nbkit.lte import psm
from nbkit.lte.fields import split_fields

# compiled from source on the unix port, the imports alone come within 1 KiB of 64K, and the
# margin moves with the checkout's path length (each module's file name is on the heap): 72K
# keeps it from failing in a deeper checkout; the per-wake heap budget is test_heap_budget's
HEAPSIZE = "72K"
T0 = 1764000000


def _cereg_psm_fields(line):
    # +CEREG: <stat>,[<tac>],[<ci>],[<AcT>],,,[<Active-Time>],[<Periodic-TAU>] (n=4 URC form)
    f = split_fields(line, "+CEREG:")
    return int(f[0]), (f[6] if len(f) > 6 else None), (f[7] if len(f) > 7 else None)


def test_network_grants_shorter_tau_and_longer_active_time_than_requested():
    clock = ManualClock(0, T0)
    _cmds, tau_req, active_req, _ = P.pre_attach_commands(70 * 3600, 10)
    stat, active_bits, tau_bits = _cereg_psm_fields(
        '+CEREG: 1,"0216","0153803F",9,,,"00100100","00100001"'
    )
    granted, active_s, tau_s = psm.grant(active_bits, tau_bits)
    assert (granted, active_s, tau_s) == (True, 240, 3600)
    assert (active_s, tau_s) != (active_req, tau_req)
    assert P.registration_action(stat) == P.SEND

    s = S.Scheduler(clock, report_s=3900, align_s=600, rng=S.Xorshift32(1))
    s.granted(granted, active_s, tau_s)
    at, why = s.next_wake()
    assert at == T0 + 3600 - 30 and "tau-align" in why, (at, why)  # by the granted 1 h TAU

    watch = P.PsmWatch(clock, active_s=active_s, margin_s=10)
    watch.feed("+CSCON:0")
    clock.advance(200 * 1000)  # the requested 10 s active time is long over: still fine
    assert not watch.missed()
    watch.feed("+NPSMR:1")
    assert watch.in_psm()
    assert P.after_report(granted, "cfun0") == P.ACTION_PSM


def test_network_denies_psm_and_the_fallback_applies():
    clock = ManualClock(0, T0)
    stat, active_bits, tau_bits = _cereg_psm_fields("+CEREG:1,0216,0153803F,9")
    granted, active_s, tau_s = psm.grant(active_bits, tau_bits)
    assert not granted
    s = S.Scheduler(clock, report_s=3900, align_s=600, rng=S.Xorshift32(1))
    s.granted(granted, active_s, 3600)
    assert s.next_wake() == (T0 + 3900, ["report"])  # no TAU alignment without PSM
    watch = P.PsmWatch(clock, active_s=active_s)
    watch.feed("+CSCON:0")
    assert watch.missed()
    assert P.after_report(granted, "cfun0") == P.ACTION_CFUN0
    assert P.after_report(granted, "stay") == P.ACTION_STAY
    # powered down by the fallback: the next report attaches again (and only then)
    assert P.registration_action(stat, powered_down=True) == P.ATTACH
    assert P.air_commands(P.report_plan(P.ATTACH)) == 3
