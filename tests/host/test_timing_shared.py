"""One timing model for the energy model and the emulator: same defaults, same sequence."""

from __future__ import annotations

import pytest
from emulator_support import sim_modem, wait_registered

from host_tools.emulator.modem import ModemOptions
from host_tools.emulator.network import Network, NetworkConfig, tx_seconds
from host_tools.energy import synth, timing
from host_tools.energy.timing import DEFAULT

OK = b"\r\nOK\r\n"


def test_every_default_has_a_source_or_says_assumption():
    names = set(DEFAULT.to_dict())
    assert names == set(timing.SOURCES), names ^ set(timing.SOURCES)
    assert all(len(text) > 20 for text in timing.SOURCES.values())
    assert synth.Timing is timing.Timing  # the model's synthetic timelines use this one


def test_the_emulator_takes_its_defaults_from_the_timing_model():
    cfg = NetworkConfig()
    assert cfg.rrc_inactivity == DEFAULT.rrc_inactivity_s
    assert cfg.release_delay == DEFAULT.rai_release_s
    assert cfg.paging_delay == DEFAULT.drx_cycle_s
    assert ModemOptions().boot_time == DEFAULT.boot_s
    for ce in (0, 1, 2):
        assert tx_seconds(50, ce) == DEFAULT.tx_s(50, ce)
        net = Network.__new__(Network)  # only the config lookups, no reactor
        net.cfg, net.ce = cfg, ce
        assert net._reg_delay() == DEFAULT.attach_s[ce]
        assert net._setup_delay() == DEFAULT.rrc_setup_s[ce]


def test_a_wake_from_idle_sets_up_rrc_then_transmits_like_the_model():
    with sim_modem(ce=1, rrc_inactivity=2.0) as (emu, port):
        port.command("AT+CFUN=1")
        wait_registered(port)
        assert port.command("AT+NSOCR=DGRAM,17,0,1").endswith(b"\r\n0\r\n" + OK)
        port.idle(10)  # released to idle by the 2 s inactivity timer
        assert emu.timeline.entries[-1][1] == "idle", emu.timeline.entries
        port.command("AT+NSOSTF=0,127.0.0.1,9,0x200,50," + "00" * 50)
        port.idle(20)
        states = [(t, s) for t, s, _ in emu.timeline.entries]
    woke = max(i for i, (_, s) in enumerate(states) if s == "idle" and i < len(states) - 1)
    woke = next(i for i in range(woke, len(states)) if states[i][1] == "connected")
    (t_conn, _), (t_tx, tx), (t_after, _) = states[woke : woke + 3]
    assert tx == "tx"
    # exact in device time; 1e-6: the float resolution of an epoch timestamp (2.4e-7 s)
    assert t_tx - t_conn == pytest.approx(DEFAULT.rrc_setup_s[1], abs=1e-6)
    assert t_after - t_tx == pytest.approx(DEFAULT.tx_s(50, 1), abs=1e-6)
