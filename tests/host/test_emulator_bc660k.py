"""The bc660k persona over the real pty: BC660K-GL forms, context 0 UDP in buffer mode on a real
socket, PSM with +QNBIOTEVENT, deep sleep woken by the UART (+QATWAKEUP), AT+QRST."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from emulator_support import sim_modem, wait_registered

from host_tools.emulator.client import SimPtyClient
from host_tools.emulator.echo import udp_echo
from host_tools.emulator.server import Emulator

OK = b"\r\nOK\r\n"


def bc660k(**net: Any) -> AbstractContextManager[tuple[Emulator, SimPtyClient]]:
    """The module and a DTE on one time master, after RDY: device time moves only while the
    DTE waits, so a URC due seconds later never lands inside a command."""
    return sim_modem("bc660k", b"RDY\r\n", **net)


def _registered(port: SimPtyClient) -> None:
    wait_registered(port, 30, ask="AT+CEREG?")


def test_identity_default_pdn_and_nb_iot_registration_in_the_bc660k_forms() -> None:
    with bc660k() as (_emu, port):
        assert port.command("AT+CGMR") == b"\r\nRevision: BC660KGLAAR01A05\r\n" + OK
        assert port.command("ATI") == (
            b"\r\nQuectel_Ltd\r\nQuectel_BC660K-GL\r\nRevision: BC660KGLAAR01A05\r\n" + OK
        )
        assert port.command("AT+CGSN=1") == b"\r\n+CGSN: 867726031076062\r\n" + OK
        assert port.command('AT+QCGDEFCONT="IP","cmnbiot"') == OK
        assert port.command("AT+QCGDEFCONT?") == b'\r\n+QCGDEFCONT: "IP","cmnbiot"\r\n' + OK
        _registered(port)
        assert port.command("AT+CEREG=2") == OK
        assert port.command("AT+CEREG?") == b'\r\n+CEREG: 2,1,"5F1E","0153803F",9\r\n' + OK
        assert port.command("AT+CSCON=1") == OK
        assert port.command("AT+CSCON?").startswith(b"\r\n+CSCON: 1,")


def test_udp_on_context_0_in_buffer_mode_reaches_a_real_socket_and_reads_back() -> None:
    with bc660k() as (_emu, port), udp_echo(master=port.master, prefix=b"re:") as pport:
        _registered(port)
        bad = port.command(f'AT+QIOPEN=1,0,"UDP","127.0.0.1",{pport},0,0')
        assert bad.endswith(b"ERROR\r\n"), bad  # only context 0 on this module
        assert port.command(f'AT+QIOPEN=0,0,"UDP","127.0.0.1",{pport},0,0') == OK
        port.read_until(b"+QIOPEN: 0,0\r\n")
        port.write(b"AT+QISEND=0,5\r")
        assert port.read_until(b"> ").endswith(b"\r\n> ")
        port.write(b"\x00\r\nOK")  # binary: CR, LF and "OK" inside the payload
        port.read_until(b"SEND OK\r\n")
        assert port.read_until(b'+QIURC: "recv",0\r\n', 30).endswith(b'"recv",0\r\n')
        assert port.command('AT+QICFG="dataformat",0,1') == OK  # receive in hex
        got = port.command("AT+QIRD=0,512")  # +QIRD: <n> CR LF "<hex>"
        assert got == b'\r\n+QIRD: 8\r\n"72653A000D0A4F4B"\r\n' + OK, got
        assert port.command("AT+QIRD=0,512") == b"\r\n+QIRD: 0\r\n" + OK


def test_psm_events_deep_sleep_and_the_wake_up_urc() -> None:
    with bc660k(rrc_inactivity=2.0) as (emu, port):
        assert port.command("AT+QNBIOTEVENT=1,1") == OK
        assert port.command("AT+CEREG=4") == OK
        # 1 h TAU, 4 s active; once registered the new grant comes as a +CEREG URC before OK
        assert port.command('AT+CPSMS=1,,,"00100001","00000010"').endswith(OK)
        assert port.command("AT+CPSMS?") == b'\r\n+CPSMS: 1,,,"00100001","00000010"\r\n' + OK
        _registered(port)
        reg = port.command("AT+CEREG?")
        assert reg.endswith(b',9,,,"00000010","00100001"\r\n' + OK), reg
        assert port.command("AT+QATWAKEUP=1") == OK
        assert port.command('AT+QCFG="dsevent",1') == OK
        assert port.command("AT+QSCLK=1") == OK
        got = port.read_until(b'+QNBIOTEVENT: "ENTER DEEPSLEEP"\r\n', 60)
        assert got.index(b'"ENTER PSM"') < got.index(b'"ENTER DEEPSLEEP"'), got
        port.write(b"AT+CSQ\r")  # wakes the module and is lost (Hardware Design §3.4.2)
        got = port.read_until(b"+QATWAKEUP\r\n")
        assert got == b'\r\n+QNBIOTEVENT: "EXIT DEEPSLEEP"\r\n\r\n+QATWAKEUP\r\n', got
        assert port.command("AT") == OK  # awake now: answered, no second wake-up report
        assert emu.modem.stats["wakeups"] == 1


def test_qrst_answers_ok_then_resets_to_rdy() -> None:
    with bc660k() as (_emu, port):
        assert port.command("AT+QRST=1") == OK
        port.read_until(b"RDY\r\n")
        assert port.command("AT") == OK
