"""Each emulated command gives the byte-exact exchange of the real Huawei-firmware modules
(docs: /work/shared/reference/at-modems.md §0-§2), driven over the real pty."""

from __future__ import annotations

import calendar
import time

import pytest
from emulator_support import options, sim_modem, wait_registered

from host_tools.emulator.client import PtyClient
from host_tools.emulator.modem import BOOT_GARBAGE
from host_tools.emulator.server import serving

OK = b"\r\nOK\r\n"


def info(*lines: str) -> bytes:
    """An information response followed by OK, framed like the module does."""
    return b"\r\n" + "\r\n".join(lines).encode() + b"\r\n" + OK


@pytest.fixture
def port():
    with sim_modem() as (_emu, port):
        yield port


def test_power_on_banner_names_the_power_on_reset():
    # Deliberately at time scale 1 on the wall clock, with a plain PtyClient: the mode a real
    # DTE (a C driver, a terminal) gets from `nbkit emulate` without --clock. The one test of
    # that mode here; every other test runs on a time master.
    with serving(options(boot_time=0.02), time_scale=1.0) as emu, PtyClient(emu.path) as p:
        got = p.read_until(b"OK\r\n")
    assert got == (
        BOOT_GARBAGE + b"\r\nBoot: Unsigned\r\nSecurity B.. Verified\r\nProtocol A.. Verified\r\n"
        b"Apps A...... Verified\r\n\r\nREBOOT_CAUSE_SECURITY_PMU_POWER_ON_RESET\r\nNeul\r\nOK\r\n"
    )


def test_nrb_prints_rebooting_garbage_verification_lines_cause_neul_ok(port):
    port.write(b"AT+NRB\r")
    got = port.read_until(b"Neul\r\nOK\r\n")
    assert got == (
        b"\r\nREBOOTING\r\n" + BOOT_GARBAGE + b"\r\nBoot: Unsigned\r\nSecurity B.. Verified\r\n"
        b"Protocol A.. Verified\r\nApps A...... Verified\r\n\r\nREBOOT_CAUSE_APPLICATION_AT\r\n"
        b"Neul\r\nOK\r\n"
    )
    assert port.command("AT") == OK


@pytest.mark.parametrize(
    "command, response",
    [
        ("AT", OK),
        ("AT+CGSN=1", info("+CGSN:867726031076062")),
        ("AT+CGSN", info("867726031076062")),
        ("AT+CIMI", info("460111175090234")),
        ("AT+NCCID", info("+NCCID:89860317492040263542")),
        ("AT+NCCID?", info("+NCCID:89860317492040263542")),
        ("AT+CMEE?", info("+CMEE:0")),
        ("AT+CFUN?", info("+CFUN:1")),
        ("AT+CEREG?", info("+CEREG:0,1")),
        ("AT+CEREG=?", info("+CEREG:(0,1,2,3,4,5)")),
        ("AT+CSCON?", info("+CSCON:0,1")),
        ("AT+CSQ", info("+CSQ:22,99")),
        ("AT+NBAND?", info("+NBAND:5,8,3,28,20,1")),
        ("AT+NSONMI?", info("+NSONMI:1")),
        ("AT+NSONMI=?", info("+NSONMI:(0,1,2,3)")),
        ("AT+NPSMR?", info("+NPSMR:0")),
        ("AT+CPSMS?", info("+CPSMS:0,,,00111000,00000101")),
        ("AT+CGPADDR", info("+CGPADDR:0,10.64.2.36")),
        ("AT+CEDRXRDP", info("+CEDRXRDP:0")),
        ("AT+NOSUCH", b"\r\nERROR\r\n"),
        ("HELLO", b"\r\nERROR\r\n"),
    ],
)
def test_simple_exchanges(port, command, response):
    wait_registered(port)
    assert port.command(command) == response


def test_cgmr_is_multi_line(port):
    assert port.command("AT+CGMR") == info(
        "SSB,V150R100C10B200SP1", "SECURITY_A,V150R100C20B300SP2",
        "PROTOCOL_A,V150R100C20B300SP2", "APPLICATION_A,V150R100C20B300SP2",
        "SECURITY_B,V150R100C20B300SP2", "RADIO,Hi2115_RF1",
    )  # fmt: skip


def test_nconfig_read_lists_every_key_and_set_is_kept_over_a_reboot(port):
    assert port.command("AT+NCONFIG?") == info(
        "+NCONFIG:AUTOCONNECT,TRUE", "+NCONFIG:CR_0354_0338_SCRAMBLING,TRUE",
        "+NCONFIG:CR_0859_SI_AVOID,TRUE", "+NCONFIG:COMBINE_ATTACH,FALSE",
        "+NCONFIG:CELL_RESELECTION,FALSE", "+NCONFIG:ENABLE_BIP,FALSE",
    )  # fmt: skip
    assert port.command('AT+NCONFIG="AUTOCONNECT","FALSE"') == OK
    assert port.command("AT+NCONFIG=CELL_RESELECTION,TRUE") == OK
    port.write(b"AT+NRB\r")
    port.read_until(b"Neul\r\nOK\r\n")
    assert b"+NCONFIG:AUTOCONNECT,FALSE\r\n" in port.command("AT+NCONFIG?")
    assert port.command("AT+CFUN?") == info("+CFUN:0")  # no autoconnect after the reboot
    assert port.command("AT+NCONFIG=NOSUCHKEY,TRUE") == b"\r\nERROR\r\n"


def test_nuestats_radio_block(port):
    wait_registered(port)
    got = port.command("AT+NUESTATS")
    lines = got.split(b"\r\n")
    assert lines[1] == b"Signal power:-719" and lines[2] == b"Total power:-651"
    assert [ln.split(b":")[0] for ln in lines[1:13]] == [
        b"Signal power", b"Total power", b"TX power", b"TX time", b"RX time", b"Cell ID",
        b"ECL", b"SNR", b"EARFCN", b"PCI", b"RSRQ", b"OPERATOR MODE",
    ]  # fmt: skip
    assert got.endswith(b"OPERATOR MODE:4\r\n\r\nOK\r\n")


def test_cmee_switches_between_error_and_cme_error(port):
    assert port.command("AT+CFUN=7") == b"\r\nERROR\r\n"
    assert port.command("AT+CMEE=1") == OK
    assert port.command("AT+CFUN=7") == b"\r\n+CME ERROR: 50\r\n"
    assert port.command("AT+CMEE=0") == OK
    assert port.command("AT+NSOCL=5") == b"\r\nERROR\r\n"


def test_echo_is_the_command_and_cr_only(port):
    assert port.command("ATE1") == OK  # not echoed: echo was off when it arrived
    assert port.command("AT+CMEE?") == b"AT+CMEE?\r" + info("+CMEE:0")
    assert port.command("ATE0") == b"ATE0\r" + OK
    assert port.command("AT") == OK


def test_concatenated_commands_answer_one_ok_each(port):
    wait_registered(port)
    assert port.command("AT+CEREG=2;+NPSMR=1;+CSCON=1") == OK
    assert port.read_until(OK + OK) == OK + OK
    assert port.command("AT+CEREG?;+NPSMR?") == info("+CEREG:2,1,5F1E,0153803F,9")
    assert port.read_until(OK) == info("+NPSMR:1,0")


def test_a_failing_command_stops_the_rest_of_the_line(port):
    wait_registered(port)
    assert port.command("AT+CSCON=9;+CSCON=1") == b"\r\nERROR\r\n"
    assert port.command("AT+CSCON?") == info("+CSCON:0,1")


@pytest.mark.parametrize(
    "line, end",
    [
        (b"at+cmee=1", b"\r"),
        (b"AT+CMEE=1", b"\r\n"),
        (b"AT + CMEE = 1", b"\r"),
        (b'AT+CMEE="1"', b"\r"),
    ],
)
def test_input_is_tolerant_like_the_module(port, line, end):
    assert port.command(line, end=end) == OK
    assert port.command("AT+CMEE?") == info("+CMEE:1")


def test_empty_lines_get_no_answer(port):
    port.write(b"\r\n\r\n")
    assert port.command("AT") == OK


def test_an_overlong_line_is_answered_error_and_counted():
    with sim_modem() as (emu, port):
        # 5,010 bytes take 5.2 device seconds at 9600 baud
        assert port.command(b"AT+NSOST=" + b"A" * 5000, 10) == b"\r\nERROR\r\n"
        assert port.command("AT") == OK
        assert emu.modem.stats["overlong_lines"] == 1


def test_cfun_cycle_reports_cereg_before_ok_on_cfun1(port):
    wait_registered(port)
    assert port.command("AT+CEREG=2") == OK
    # a 2 s modelled detach (response_times.py)
    assert port.command("AT+CFUN=0", 5) == b"\r\n+CEREG:0,0000,00000000,9\r\n" + OK
    assert port.command("AT+CFUN?") == info("+CFUN:0")
    assert port.command("AT+CSQ") == info("+CSQ:99,99")
    assert port.command("AT+CFUN=1") == b"\r\n+CEREG:2,0000,00000000,9\r\n" + OK
    assert port.read_until(b"+CEREG:1,5F1E,0153803F,9\r\n") == b"\r\n+CEREG:1,5F1E,0153803F,9\r\n"
    assert port.command("AT+CGATT?") == info("+CGATT:1")


@pytest.mark.parametrize(
    "n, urc",
    [
        (1, "+CEREG:1"),
        (2, "+CEREG:1,5F1E,0153803F,9"),
        (3, "+CEREG:1,5F1E,0153803F,9"),
        (4, "+CEREG:1,5F1E,0153803F,9,,,00000001,00100001"),
        (5, "+CEREG:1,5F1E,0153803F,9,,,00000001,00100001"),
    ],
)
def test_cereg_urc_layout_per_n(port, n, urc):
    assert port.command("AT+CFUN=0", 5) == OK
    assert port.command('AT+CPSMS=1,,,"00100001","00000001"') == OK
    assert port.command(f"AT+CEREG={n}") == OK
    port.command("AT+CFUN=1")
    assert port.read_until(urc.encode() + b"\r\n").endswith(b"\r\n" + urc.encode() + b"\r\n")
    assert port.command("AT+CEREG?") == info(f"+CEREG:{n}," + urc[len("+CEREG:") :])


def test_cgatt_detach_and_attach(port):
    wait_registered(port)
    assert port.command("AT+CGATT=0") == OK
    assert port.command("AT+CGATT?") == info("+CGATT:0")
    assert port.command("AT+CGPADDR") == info("+CGPADDR:0")
    assert port.command("AT+CGATT=1") == OK
    wait_registered(port)


def test_cpsms_cedrxs_set_and_read(port):
    assert port.command('AT+CPSMS=1,,,"01000011","00000001"') == OK
    assert port.command("AT+CPSMS?") == info("+CPSMS:1,,,01000011,00000001")
    assert port.command("AT+CPSMS=1,,,01000011,0000000") == b"\r\nERROR\r\n"
    assert port.command('AT+CEDRXS=1,5,"0101"') == OK
    assert port.command("AT+CEDRXS?") == info('+CEDRXS:5,"0101"')
    wait_registered(port)
    assert port.command("AT+CEDRXRDP") == info('+CEDRXRDP:5,"0101","0101","0011"')
    assert port.command("AT+CEDRXS=0,5") == OK
    assert port.command("AT+CEDRXS?") == OK


def test_nband_and_cgdcont(port):
    assert port.command("AT+NBAND=8") == OK
    assert port.command("AT+NBAND?") == info("+NBAND:8")
    assert port.command("AT+NBAND=7") == b"\r\nERROR\r\n"
    assert port.command('AT+CGDCONT=1,"IP","iot.example"') == OK
    assert port.command("AT+CGDCONT?") == info('+CGDCONT:1,"IP","iot.example",,0,0,,,,,0')


def test_socket_commands_answer_bare_ids_and_sock_len(port):
    wait_registered(port)
    assert port.command("AT+NSOCR=DGRAM,17,0,1") == info("0")
    assert port.command("AT+NSOCR= DGRAM,17,0,1") == info("1")
    assert port.command("AT+NSOST=0,127.0.0.1,9,12,48656C6C6F20576F726C6421") == info("0,12")
    assert port.command('AT+NSOSTF=1,"127.0.0.1",9,0x100,1,"ff"') == info("1,1")
    assert port.command("AT+NSORF=0,12") == OK  # nothing buffered
    assert port.command("AT+NSOST=0,127.0.0.1,9,3,4142") == b"\r\nERROR\r\n"  # hex != len
    assert port.command("AT+NSOSTF=0,127.0.0.1,9,0x800,1,41") == b"\r\nERROR\r\n"  # bad flag
    assert port.command("AT+NSOST=0,example.com,9,1,41") == b"\r\nERROR\r\n"
    assert port.command("AT+NSOCR=STREAM,6,0,1") == b"\r\nERROR\r\n"
    assert port.command("AT+NSOCL=0") == OK
    assert port.command("AT+NSOCL=0") == b"\r\nERROR\r\n"


def test_nsost_with_sequence_reports_nsostr_and_nqsos(port):
    wait_registered(port)
    port.command("AT+NSOCR=DGRAM,17,0,1")
    assert port.command("AT+NSOST=0,127.0.0.1,9,1,41,7") == info("0,1")
    assert port.read_until(b"+NSOSTR:0,7,1\r\n").endswith(b"\r\n+NSOSTR:0,7,1\r\n")
    assert port.command("AT+NQSOS=0") == OK


def test_bc95_persona_has_512_byte_limit_and_no_nsonmi_modes():
    with sim_modem("bc95") as (_emu, port):
        wait_registered(port)
        assert port.command("AT+NBAND?") == info("+NBAND:8")
        assert port.command("AT+NSONMI=2") == b"\r\nERROR\r\n"
        port.command("AT+NSOCR=DGRAM,17,0,1")
        assert port.command(f"AT+NSOST=0,127.0.0.1,9,512,{'00' * 512}") == info("0,512")
        assert port.command(f"AT+NSOST=0,127.0.0.1,9,513,{'00' * 513}") == b"\r\nERROR\r\n"
        assert b"RADIO,BC95HB-02-STD_900" in port.command("AT+CGMR")


def test_bc28_accepts_1358_bytes_not_more(port):
    wait_registered(port)
    port.command("AT+NSOCR=DGRAM,17,0,1")
    # 2.9 s each on a 9600-baud wire (uart.py)
    assert port.command(f"AT+NSOST=0,127.0.0.1,9,1358,{'AB' * 1358}", 5) == info("0,1358")
    assert port.command(f"AT+NSOST=0,127.0.0.1,9,1359,{'AB' * 1359}", 5) == b"\r\nERROR\r\n"


def test_cops_deregisters_and_registers(port):
    wait_registered(port)
    assert port.command("AT+COPS?") == info('+COPS:0,2,"46011"')
    assert port.command("AT+COPS=2") == OK
    assert port.command("AT+CGATT?") == info("+CGATT:0")
    assert port.command("AT+COPS=0") == OK
    wait_registered(port)


def test_cclk_gives_network_time_on_the_virtual_clock():
    with sim_modem() as (_emu, port):
        wait_registered(port)
        got = port.command("AT+CCLK?")
        assert got.startswith(b"\r\n+CCLK:") and got.endswith(b"+00\r\n" + OK)
        stamp = time.strptime(got[8:25].decode(), "%y/%m/%d,%H:%M:%S")
        assert calendar.timegm(stamp) == int(port.now())  # the master's device time


def test_qregswt_is_accepted(port):
    assert port.command("AT+QREGSWT=2") == OK
    assert port.command("AT+QREGSWT?") == info("+QREGSWT:2")
