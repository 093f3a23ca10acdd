"""Datagrams travel over REAL UDP on 127.0.0.1: NSOSTF -> echo server -> +NSONMI -> NSORF."""

from __future__ import annotations

import socket
import time

import pytest
from emulator_support import modem, wait_registered

from host_tools.emulator.echo import udp_echo

OK = b"\r\nOK\r\n"


@pytest.fixture
def echo():
    """A UDP echo server on 127.0.0.1; yields its port."""
    with udp_echo() as port:
        yield port


PAYLOAD = b"Hello World!"
HEX = PAYLOAD.hex().upper()


def _send(port, echo_port, flag="0x0"):
    wait_registered(port)
    assert port.command("AT+NSOCR=DGRAM,17,0,1") == b"\r\n0\r\n" + OK
    cmd = f"AT+NSOSTF=0,127.0.0.1,{echo_port},{flag},{len(PAYLOAD)},{HEX}"
    assert port.command(cmd) == b"\r\n0,12\r\n" + OK


def test_mode_1_indicates_length_and_nsorf_returns_the_echo(echo):
    with modem() as (_emu, port):
        _send(port, echo)
        assert port.read_until(b"+NSONMI:0,12\r\n").endswith(b"\r\n+NSONMI:0,12\r\n")
        assert port.command("AT+NSORF=0,512") == (
            f"\r\n0,127.0.0.1,{echo},12,{HEX},0\r\n".encode() + OK
        )
        assert port.command("AT+NSORF=0,512") == OK  # consumed


def test_mode_2_carries_address_and_data_in_the_urc(echo):
    with modem() as (_emu, port):
        assert port.command("AT+NSONMI=2") == OK
        _send(port, echo)
        urc = f"+NSONMI:0,127.0.0.1,{echo},12,{HEX}\r\n".encode()
        assert port.read_until(urc).endswith(b"\r\n" + urc)
        assert port.command("AT+NSORF=0,512") == OK  # delivered in the URC, not buffered


def test_mode_3_carries_length_and_data(echo):
    with modem() as (_emu, port):
        assert port.command("AT+NSONMI=3") == OK
        _send(port, echo)
        urc = f"+NSONMI:0,12,{HEX}\r\n".encode()
        assert port.read_until(urc).endswith(b"\r\n" + urc)


def test_mode_0_buffers_silently(echo):
    with modem() as (emu, port):
        assert port.command("AT+NSONMI=0") == OK
        _send(port, echo)
        deadline = time.monotonic() + 2
        while not emu.modem.socks.get(0).rx and time.monotonic() < deadline:
            time.sleep(0.005)
        assert b"NSONMI" not in port.drain(0.05)
        assert port.command("AT+NSORF=0,512") == (
            f"\r\n0,127.0.0.1,{echo},12,{HEX},0\r\n".encode() + OK
        )


def test_nsorf_reports_what_is_left_of_each_datagram(echo):
    with modem() as (_emu, port):
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


def test_flag_0x400_releases_rrc_after_the_reply(echo):
    with modem(time_scale=100.0, release_delay=1.5, rrc_inactivity=600) as (emu, port):
        assert port.command("AT+CSCON=1") == OK
        _send(port, echo, flag="0x400")
        got = port.read_until(b"+CSCON:0\r\n", timeout=3)
        assert got.index(b"+NSONMI:0,12") < got.index(b"+CSCON:0")
        states = [s for _, s, _ in emu.timeline.entries]
        assert states[-3:] == ["tx", "connected", "idle"]


def test_the_peer_sees_the_modem_socket_and_can_reply_unprompted():
    with modem() as (_emu, port):
        wait_registered(port)
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(2)
        port.command("AT+NSOCR=DGRAM,17,0,1")
        peer_port = peer.getsockname()[1]
        port.command(f"AT+NSOST=0,127.0.0.1,{peer_port},3,414243")
        data, addr = peer.recvfrom(100)
        assert data == b"ABC" and addr[0] == "127.0.0.1"
        peer.sendto(b"\x01\x02", addr)
        assert port.read_until(b"+NSONMI:0,2\r\n")
        assert port.command("AT+NSORF=0,10") == (
            f"\r\n0,127.0.0.1,{peer_port},2,0102,0\r\n".encode() + OK
        )
        peer.close()
