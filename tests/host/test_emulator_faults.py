"""Every scenario fault kind, shown by its effect on the wire (and the scenario file rules)."""

from __future__ import annotations

import json

import pytest
from emulator_support import BANNER_END, options, sim_modem, wait_registered

from host_tools.emulator.echo import udp_echo
from host_tools.emulator.modem import BOOT_GARBAGE
from host_tools.emulator.scenario import load, parse
from host_tools.errors import CommandError

OK = b"\r\nOK\r\n"
SEND = "AT+NSOST=0,127.0.0.1,9,1,FF"


def _socket(port):
    wait_registered(port)
    assert port.command("AT+NSOCR=DGRAM,17,0,1") == b"\r\n0\r\n" + OK


def test_error_hits_only_the_kth_matching_command():
    faults = [{"kind": "error", "match": "at+nsost=", "nth": 2, "cme": 159}]
    with sim_modem(faults=faults) as (_emu, port):
        _socket(port)
        port.command("AT+CMEE=1")
        assert port.command(SEND) == b"\r\n0,1\r\n" + OK
        assert port.command(SEND) == b"\r\n+CME ERROR: 159\r\n"
        assert port.command(SEND) == b"\r\n0,1\r\n" + OK


def test_error_is_plain_without_cmee_or_without_a_code():
    faults = [
        {"kind": "error", "match": "AT+CSQ", "cme": 30},
        {"kind": "error", "match": "AT+CIMI"},
    ]
    with sim_modem(faults=faults) as (_emu, port):
        assert port.command("AT+CSQ") == b"\r\nERROR\r\n"  # CMEE=0
        port.command("AT+CMEE=1")
        assert port.command("AT+CIMI") == b"\r\nERROR\r\n"  # no code given


def test_drop_executes_but_sends_nothing():
    with sim_modem(faults=[{"kind": "drop", "match": "AT+CMEE=1"}]) as (_emu, port):
        port.write(b"AT+CMEE=1\r")
        assert port.drain(0.1) == b""
        assert port.command("AT+CMEE?") == b"\r\n+CMEE:1\r\n" + OK  # it was executed


def test_delay_holds_the_response_and_what_follows():
    faults = [{"kind": "delay", "match": "AT+CGMR", "nth": 2, "seconds": 0.3}]
    with sim_modem(faults=faults) as (_emu, port):
        start = port.now()
        plain = port.command("AT+CGMR")  # the first: not delayed
        took = port.now() - start
        start = port.now()
        port.write(b"AT+CGMR\r")
        assert port.drain(0.1) == b""
        assert port.read_until(OK) == plain
        assert port.now() - start == pytest.approx(took + 0.3, abs=1e-6)  # exactly 0.3 s later


def test_garbage_comes_right_before_the_response():
    with sim_modem(faults=[{"kind": "garbage", "match": "AT", "hex": "FF00FE"}]) as (_emu, port):
        assert port.command("AT") == b"\xff\x00\xfe" + OK


def test_split_writes_a_line_in_two_parts_with_a_pause():
    faults = [{"kind": "split", "match": "AT+CIMI", "at_byte": 7, "pause": 0.3}]
    with sim_modem(faults=faults) as (_emu, port):
        port.write(b"AT+CIMI\r")
        assert port.drain(0.15) == b"\r\n46011"
        assert port.read_until(OK) == b"1175090234\r\n" + OK


def test_urc_before_ok_sits_between_response_and_ok():
    faults = [{"kind": "urc_before_ok", "match": "AT+CIMI", "urc": "+CEREG:2"}]
    with sim_modem(faults=faults) as (_emu, port):
        assert port.command("AT+CIMI") == b"\r\n460111175090234\r\n\r\n+CEREG:2\r\n" + OK
        assert port.command("AT+CIMI") == b"\r\n460111175090234\r\n" + OK


def test_reboot_mid_command_answers_nothing_and_prints_the_crash_banner():
    with sim_modem(faults=[{"kind": "reboot", "match": "AT+NSOST="}]) as (emu, port):
        _socket(port)
        port.write(SEND.encode() + b"\r")
        got = port.read_until(BANNER_END)
        assert got == (
            BOOT_GARBAGE + b"\r\nBoot: Unsigned\r\nSecurity B.. Verified\r\nProtocol A.. "
            b"Verified\r\nApps A...... Verified\r\n\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\n"
            b"Neul\r\nOK\r\n"
        )
        assert port.command("AT+NSOCL=0") == b"\r\nERROR\r\n"  # sockets died with the reset
        assert emu.modem.stats["reboots"] == 2


def test_uplink_busy_answers_159_for_the_next_n_sends():
    with sim_modem(faults=[{"kind": "uplink_busy", "at": 0, "sends": 2}]) as (_emu, port):
        _socket(port)
        port.command("AT+CMEE=1")
        assert [port.command(SEND) for _ in range(3)] == [
            b"\r\n+CME ERROR: 159\r\n",
            b"\r\n+CME ERROR: 159\r\n",
            b"\r\n0,1\r\n" + OK,
        ]


def test_clock_garbage_urc_and_reboot_arrive_on_time():
    faults = [
        {"kind": "garbage", "at": 0.2, "hex": "A5A5"},
        {"kind": "urc", "at": 0.3, "urc": "+NPSMR:0"},
        {"kind": "reboot", "at": 0.4, "cause": "REBOOT_CAUSE_PROTOCOL_WATCHDOG"},
    ]
    with sim_modem(faults=faults) as (_emu, port):
        got = port.read_until(BANNER_END)
        assert got.startswith(b"\xa5\xa5\r\n+NPSMR:0\r\n" + BOOT_GARBAGE)
        assert b"\r\nREBOOT_CAUSE_PROTOCOL_WATCHDOG\r\nNeul\r\nOK\r\n" in got


def test_deny_psm_fault_withdraws_granted_timers():
    # the fault comes after AT+CFUN=0 (2 s modelled detach) and AT+CFUN=1 (1 s) have been
    # answered (response_times.py) and the module registered again
    faults = [{"kind": "deny_psm", "at": 6.0}]
    with sim_modem(faults=faults) as (_emu, port):
        port.command("AT+CFUN=0", 5)
        port.command('AT+CPSMS=1,,,"00100001","00000101";+CEREG=4')
        port.read_until(OK)
        port.command("AT+CFUN=1", 5)
        wait_registered(port)
        assert port.command("AT+CEREG?").endswith(b",,,00000101,00100001\r\n" + OK)
        port.read_until(b"\r\n+CEREG:1,5F1E,0153803F,9\r\n", timeout=10)  # timers withdrawn
        assert port.command("AT+CEREG?") == b"\r\n+CEREG:4,1,5F1E,0153803F,9\r\n" + OK


def test_ce_level_fault_changes_signal_and_timeline():
    with sim_modem(faults=[{"kind": "ce_level", "at": 0.5, "level": 2}]) as (emu, port):
        wait_registered(port)
        assert port.command("AT+CSQ") == b"\r\n+CSQ:22,99\r\n" + OK  # before the fault's 0.5 s
        port.idle(0.5)
        assert port.command("AT+CSQ") == b"\r\n+CSQ:5,99\r\n" + OK
        assert emu.timeline.entries[-1][2] == 2


def test_first_command_after_boot_may_answer_error():
    opts = options()
    opts.first_command_error = True
    with sim_modem(opts=opts) as (_emu, port):
        assert port.command("AT") == b"\r\nERROR\r\n"
        assert port.command("AT") == OK


def test_scenario_files_in_json_and_toml(tmp_path):
    (tmp_path / "s.toml").write_text(
        '[[faults]]\nkind = "error"\nmatch = "AT+NSOST="\nnth = 2\ncme = 159\n\n'
        '[[faults]]\nkind = "coverage_loss"\nat = 120\nduration = 60\n'
    )
    (tmp_path / "s.json").write_text(json.dumps({"faults": [
        {"kind": "error", "match": "AT+NSOST=", "nth": 2, "cme": 159},
        {"kind": "coverage_loss", "at": 120, "duration": 60},
    ]}))  # fmt: skip
    for name in ("s.toml", "s.json"):
        scenario = load(tmp_path / name)
        assert [f.kind for f in scenario.command_faults] == ["error"]
        assert scenario.clock_faults[0].params == {"duration": 60.0}


@pytest.mark.parametrize(
    "fault, message",
    [
        ({"kind": "explode", "at": 1}, "kind must be one of"),
        ({"kind": "drop"}, "exactly one trigger"),
        ({"kind": "drop", "match": "AT", "at": 1}, "exactly one trigger"),
        ({"kind": "coverage_loss", "match": "AT", "duration": 1}, "triggered by 'at'"),
        ({"kind": "delay", "match": "AT"}, "needs 'seconds'"),
        ({"kind": "delay", "match": "AT", "seconds": "soon"}, "'seconds' must be float"),
        ({"kind": "garbage", "at": 1, "hex": "XYZ"}, "not hex"),
        ({"kind": "drop", "match": "AT", "colour": "red"}, "unknown key"),
        ({"kind": "error", "match": "AT", "nth": 0}, "'nth' and 'times' must be >= 1"),
    ],
)
def test_bad_scenarios_are_refused_with_the_reason(fault, message):
    with pytest.raises(CommandError, match=message):
        parse({"faults": [fault]})


def test_unreadable_or_malformed_scenario_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read scenario"):
        load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(CommandError, match="not valid json"):
        load(tmp_path / "bad.json")


def test_a_handler_bug_answers_error_and_the_modem_keeps_serving():
    def broken(m, cmd):
        raise RuntimeError("boom")

    with sim_modem() as (emu, port):
        emu.modem.commands = dict(emu.modem.commands, **{"+CSQ": broken})
        assert port.command("AT+CSQ") == b"\r\nERROR\r\n"
        assert port.command("AT") == OK
        assert emu.modem.stats["internal_errors"] == 1


def _echo_send(port, echo_port):
    _socket(port)
    cmd = f"AT+NSOST=0,127.0.0.1,{echo_port},2,BEEF"
    assert port.command(cmd) == b"\r\n0,2\r\n" + OK


def test_server_down_loses_what_the_modem_sends_then_the_server_answers_again():
    faults = [{"kind": "server_down", "at": 0, "duration": 1.0}]
    with sim_modem(faults=faults) as (emu, port), udp_echo(master=port.master) as echo:
        _echo_send(port, echo)  # sent over the air (the modem says so), lost past the radio
        assert b"+NSONMI" not in port.drain(0.3)
        assert emu.modem.stats["lost_to_server"] == 1
        port.idle(1.0)  # the fault's 1 s ends
        assert not emu.modem.server_down
        assert port.command(f"AT+NSOST=0,127.0.0.1,{echo},2,BEEF") == b"\r\n0,2\r\n" + OK
        assert port.read_until(b"+NSONMI:0,2\r\n", timeout=2).endswith(b"+NSONMI:0,2\r\n")


def test_duplicate_downlinks_deliver_each_datagram_twice():
    with (
        sim_modem(faults=[{"kind": "duplicate_downlinks", "at": 0}]) as (_e, port),
        udp_echo(master=port.master) as echo,
    ):
        _echo_send(port, echo)
        port.read_until(b"+NSONMI:0,2\r\n", timeout=2)
        port.read_until(b"+NSONMI:0,2\r\n", timeout=2)  # the same reply again
        assert port.command("AT+NSORF=0,512").count(b"BEEF") == 1
        assert port.command("AT+NSORF=0,512").count(b"BEEF") == 1


def test_delay_downlinks_hold_each_reply_back():
    faults = [{"kind": "delay_downlinks", "at": 0, "seconds": 0.5}]
    with sim_modem(faults=faults) as (_emu, port), udp_echo(master=port.master) as echo:
        _echo_send(port, echo)
        assert b"+NSONMI" not in port.drain(0.3)  # the echo came back at once; held by the network
        port.read_until(b"+NSONMI:0,2\r\n", timeout=2)


def test_reorder_downlinks_bring_the_older_reply_just_ahead_of_each_newer_one():
    with (
        sim_modem(faults=[{"kind": "reorder_downlinks", "at": 0}]) as (_e, port),
        udp_echo(master=port.master) as echo,
    ):
        _echo_send(port, echo)  # the first reply: nothing older to overtake it
        port.read_until(b"+NSONMI:0,2\r\n", timeout=2)
        assert port.command("AT+NSORF=0,512").count(b"BEEF") == 1
        assert port.command(f"AT+NSOST=0,127.0.0.1,{echo},2,CAFE") == b"\r\n0,2\r\n" + OK
        port.read_until(b"+NSONMI:0,2\r\n", timeout=2)
        port.read_until(b"+NSONMI:0,2\r\n", timeout=2)
        assert port.command("AT+NSORF=0,512").count(b"BEEF") == 1  # the older reply first
        assert port.command("AT+NSORF=0,512").count(b"CAFE") == 1


def test_reorder_downlinks_can_hold_the_newer_reply_behind_the_older_one():
    faults = [{"kind": "reorder_downlinks", "at": 0, "seconds": 0.5}]
    with sim_modem(faults=faults) as (_e, port), udp_echo(master=port.master) as echo:
        _echo_send(port, echo)
        port.read_until(b"+NSONMI:0,2\r\n", timeout=2)
        assert port.command("AT+NSORF=0,512").count(b"BEEF") == 1
        assert port.command(f"AT+NSOST=0,127.0.0.1,{echo},2,CAFE") == b"\r\n0,2\r\n" + OK
        port.read_until(b"+NSONMI:0,2\r\n", timeout=2)
        assert port.command("AT+NSORF=0,512").count(b"BEEF") == 1
        assert b"+NSONMI" not in port.drain(0.2)  # the newer one is still on its way
        port.read_until(b"+NSONMI:0,2\r\n", timeout=2)
        assert port.command("AT+NSORF=0,512").count(b"CAFE") == 1
