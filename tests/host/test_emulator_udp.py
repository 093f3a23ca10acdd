"""Datagrams travel over REAL UDP on 127.0.0.1: NSOSTF -> echo server -> +NSONMI -> NSORF."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from emulator_support import SimPeer, sim_modem, wait_registered

from host_tools.emulator.client import SimPtyClient
from host_tools.emulator.echo import udp_echo
from host_tools.emulator.server import Emulator

OK = b"\r\nOK\r\n"


@contextmanager
def rig(**net: Any) -> Iterator[tuple[Emulator, SimPtyClient, int]]:
    """The module, its DTE and a UDP echo server on 127.0.0.1 (its port), all on one time
    master: device time never moves while a datagram is on its way."""
    with sim_modem(**net) as (emu, port), udp_echo(master=port.master) as echo:
        yield emu, port, echo


PAYLOAD = b"Hello World!"
HEX = PAYLOAD.hex().upper()


def _send(port, echo_port, flag="0x0"):
    wait_registered(port)
    assert port.command("AT+NSOCR=DGRAM,17,0,1") == b"\r\n0\r\n" + OK
    cmd = f"AT+NSOSTF=0,127.0.0.1,{echo_port},{flag},{len(PAYLOAD)},{HEX}"
    assert port.command(cmd) == b"\r\n0,12\r\n" + OK


def test_mode_1_indicates_length_and_nsorf_returns_the_echo():
    with rig() as (_emu, port, echo):
        _send(port, echo)
        assert port.read_until(b"+NSONMI:0,12\r\n").endswith(b"\r\n+NSONMI:0,12\r\n")
        assert port.command("AT+NSORF=0,512") == (
            f"\r\n0,127.0.0.1,{echo},12,{HEX},0\r\n".encode() + OK
        )
        assert port.command("AT+NSORF=0,512") == OK  # consumed


def test_mode_2_carries_address_and_data_in_the_urc():
    with rig() as (_emu, port, echo):
        assert port.command("AT+NSONMI=2") == OK
        _send(port, echo)
        urc = f"+NSONMI:0,127.0.0.1,{echo},12,{HEX}\r\n".encode()
        assert port.read_until(urc).endswith(b"\r\n" + urc)
        assert port.command("AT+NSORF=0,512") == OK  # delivered in the URC, not buffered


def test_mode_3_carries_length_and_data():
    with rig() as (_emu, port, echo):
        assert port.command("AT+NSONMI=3") == OK
        _send(port, echo)
        urc = f"+NSONMI:0,12,{HEX}\r\n".encode()
        assert port.read_until(urc).endswith(b"\r\n" + urc)


def test_mode_0_buffers_silently():
    with rig() as (emu, port, echo):
        assert port.command("AT+NSONMI=0") == OK
        _send(port, echo)
        assert b"NSONMI" not in port.idle(5)  # the echo is back well within 5 device s
        assert emu.modem.socks.get(0).rx
        assert port.command("AT+NSORF=0,512") == (
            f"\r\n0,127.0.0.1,{echo},12,{HEX},0\r\n".encode() + OK
        )


def test_nsorf_reports_what_is_left_of_each_datagram():
    with rig() as (_emu, port, echo):
        _send(port, echo)
        port.read_until(b"+NSONMI:0,12\r\n")
        assert port.command(f"AT+NSOST=0,127.0.0.1,{echo},2,ABCD") == b"\r\n0,2\r\n" + OK
        port.read_until(b"+NSONMI:0,2\r\n")
        part = PAYLOAD[:5].hex().upper()
        rest = PAYLOAD[5:].hex().upper()
        assert (
            port.command("AT+NSORF=0,5") == f"\r\n0,127.0.0.1,{echo},5,{part},7\r\n".encode() + OK
        )
        assert port.command("AT+NSORF=0,100") == (
            f"\r\n0,127.0.0.1,{echo},7,{rest},0\r\n".encode() + OK
        )
        assert (
            port.command("AT+NSORF=0,100") == f"\r\n0,127.0.0.1,{echo},2,ABCD,0\r\n".encode() + OK
        )


def test_flag_0x400_releases_rrc_after_the_reply():
    with rig(release_delay=1.5, rrc_inactivity=600) as (emu, port, echo):
        assert port.command("AT+CSCON=1") == OK
        _send(port, echo, flag="0x400")
        got = port.read_until(b"+CSCON:0\r\n", timeout=30)
        assert got.index(b"+NSONMI:0,12") < got.index(b"+CSCON:0")
        states = [s for _, s, _ in emu.timeline.entries]
        assert states[-3:] == ["tx", "connected", "idle"]


def test_the_peer_sees_the_modem_socket_and_can_reply_unprompted():
    with sim_modem() as (_emu, port), SimPeer(port.master) as peer:
        wait_registered(port)
        port.command("AT+NSOCR=DGRAM,17,0,1")
        port.command(f"AT+NSOST=0,127.0.0.1,{peer.port},3,414243")
        port.idle(5)  # on the air, then out of the real socket
        data, addr = peer.recvfrom()
        assert data == b"ABC" and addr[0] == "127.0.0.1"
        peer.sendto(b"\x01\x02", addr[1])
        assert port.read_until(b"+NSONMI:0,2\r\n")
        assert port.command("AT+NSORF=0,10") == (
            f"\r\n0,127.0.0.1,{peer.port},2,0102,0\r\n".encode() + OK
        )
