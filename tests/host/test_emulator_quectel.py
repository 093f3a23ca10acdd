"""ec200/bc26 personas over the real pty: Quectel formats, QI sockets on real TCP/UDP sockets.
On a time master: the DTE, the module and the peers that answer it (a TCP server, a UDP
socket) are participants, so device time never moves while an answer is on its way."""

from __future__ import annotations

import re
import socket

from emulator_support import SimPeer
from quectel_support import OK, TcpPeer, online, quectel, registered, send_data

from tests.support.simdte import EPOCH

# payload bytes a line-based parser would take for lines, results or URCs
NASTY = b'\r\nOK\r\n+QIURC: "recv",0,5\r\n\x00\xff>\x1a\x1b\r\nERROR\r\n'


def _open_tcp(port, peer: TcpPeer, cid: int = 0, mode: int = 1) -> None:
    assert port.command(f'AT+QIOPEN=1,{cid},"TCP","127.0.0.1",{peer.port},0,{mode}') == OK
    peer.accept()
    assert port.read_until(f"+QIOPEN: {cid},0\r\n".encode()).endswith(
        f"\r\n+QIOPEN: {cid},0\r\n".encode()
    )


def test_ec200_boots_with_rdy_and_answers_in_the_quectel_layout():
    with quectel("ec200") as (_emu, port):
        assert port.command("AT+CPIN?") == b"\r\n+CPIN: READY\r\n" + OK
        assert (
            port.command("ATI")
            == b"\r\nQuectel\r\nEC200U\r\nRevision: EC200UCNAAR02A11M08\r\n" + OK
        )
        registered(port)
        assert port.command("AT+CEREG=2") == OK
        assert port.command("AT+CEREG?") == b'\r\n+CEREG: 2,1,"5F1E","0153803F",7\r\n' + OK
        assert port.command("AT+CGREG=2") == OK
        assert port.command("AT+CGREG?") == b'\r\n+CGREG: 2,1,"5F1E","0153803F",7\r\n' + OK
        assert port.command("AT+CSQ") == b"\r\n+CSQ: 22,99\r\n" + OK
        assert port.command("AT+QSCLK=1") == OK
        assert port.command("AT+QSCLK?") == b"\r\n+QSCLK: 1\r\n" + OK


def test_bc26_reports_nb_iot_act_9_and_needs_no_qiact():
    with quectel("bc26") as (_emu, port), TcpPeer(port.master) as peer:
        registered(port)
        assert port.command("AT+CEREG=2") == OK
        assert port.command("AT+CEREG?") == b'\r\n+CEREG: 2,1,"5F1E","0153803F",9\r\n' + OK
        _open_tcp(port, peer)  # context 1 comes with the attach on the NB-IoT module


def test_registration_urc_has_a_space_after_the_colon():
    with quectel("ec200", reg_delay=50.0) as (_emu, port):
        assert port.command("AT+CEREG=1") == OK
        # (OK after the detach, 2 device s, and after the radio's power-up, 1 s)
        assert port.command("AT+CFUN=0", timeout=5) == b"\r\n+CEREG: 0\r\n" + OK
        assert port.command("AT+CFUN=1", timeout=5) == b"\r\n+CEREG: 2\r\n" + OK
        t = port.now()
        assert port.read_until(b"+CEREG: 1\r\n", timeout=60).endswith(b"\r\n+CEREG: 1\r\n")
        # registered reg_delay after the command was taken: 50 s less the 1 s before its OK,
        # less the 1 ms the OK line took longer on the wire (both land on 500 us slots)
        assert round((port.now() - t) * 1e6) == 48_999_000


def test_context_configuration_and_activation():
    with quectel() as (_emu, port):
        assert port.command("AT+QIACT?") == OK  # nothing active yet
        online(port)
        assert port.command("AT+QICSGP=1") == b'\r\n+QICSGP: 1,"cmnet","","",1\r\n' + OK
        assert re.fullmatch(
            rb'\r\n\+QIACT: 1,1,1,"10\.\d+\.\d+\.\d+"\r\n\r\nOK\r\n', port.command("AT+QIACT?")
        )


def test_qiopen_answers_ok_then_the_result_urc():
    with quectel() as (_emu, port), TcpPeer(port.master) as peer:
        online(port)
        _open_tcp(port, peer)
        # the same id again: 563; a refused connection: 566 (the modem's stack got RST)
        assert port.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},0,1') == OK
        assert port.read_until(b"+QIOPEN: 0,563\r\n")
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
        closed.close()
        assert port.command(f'AT+QIOPEN=1,1,"TCP","127.0.0.1",{dead_port},0,1') == OK
        assert port.read_until(b"+QIOPEN: 1,566\r\n")


def test_qiopen_without_an_active_context_fails_with_561():
    with quectel() as (_emu, port), TcpPeer(port.master) as peer:
        registered(port)
        assert port.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},0,1') == OK
        assert port.read_until(b"+QIOPEN: 0,561\r\n")


def test_qisend_prompt_then_exactly_len_raw_bytes_reach_the_peer_intact():
    with quectel() as (_emu, port), TcpPeer(port.master) as peer:
        online(port)
        _open_tcp(port, peer)
        after = send_data(port, f"AT+QISEND=0,{len(NASTY)}", NASTY, b"SEND OK\r\n")
        assert after == b"\r\nSEND OK\r\n"
        assert peer.recv_exactly(len(NASTY)) == NASTY
        assert port.command("AT+QISEND=0,0") == (
            f"\r\n+QISEND: {len(NASTY)},{len(NASTY)},0\r\n".encode() + OK
        )


def test_a_crlf_terminated_qisend_does_not_count_its_lf_as_payload():
    with quectel() as (_emu, port), TcpPeer(port.master) as peer:
        online(port)
        _open_tcp(port, peer)
        port.write(b"AT+QISEND=0,3\r\n")
        port.read_until(b"> ")
        port.write(b"abc")
        assert port.read_until(b"SEND OK\r\n") == b"\r\nSEND OK\r\n"
        assert peer.recv_exactly(3) == b"abc"


def test_direct_push_delivers_len_then_raw_bytes_and_a_glued_closed_urc():
    with quectel() as (_emu, port), TcpPeer(port.master) as peer:
        online(port)
        _open_tcp(port, peer)
        peer.sendall(NASTY)
        peer.shut()
        head = f'\r\n+QIURC: "recv",0,{len(NASTY)}\r\n'.encode()
        expected = head + NASTY + b'\r\n+QIURC: "closed",0\r\n'
        assert port.read_until(b'"closed",0\r\n') == expected
        # the id stays taken until the DTE closes it
        assert port.command("AT+QICLOSE=0") == OK
        assert port.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},0,1') == OK
        assert port.read_until(b"+QIOPEN: 0,0\r\n")


def test_buffer_mode_indicates_once_and_qird_reads_by_count():
    with quectel() as (_emu, port), TcpPeer(port.master) as peer:
        online(port)
        _open_tcp(port, peer, mode=0)
        peer.sendall(NASTY)
        assert port.read_until(b'+QIURC: "recv",0\r\n').endswith(b'\r\n+QIURC: "recv",0\r\n')
        # the payload holds "\r\nOK\r\n": a DTE reads it by count, never up to a final line
        port.write(b"AT+QIRD=0,10\r")
        want = b"\r\n+QIRD: 10\r\n" + NASTY[:10] + b"\r\n" + OK
        assert port.read_until(want) == want
        rest = len(NASTY) - 10
        assert (
            port.command("AT+QIRD=0,0") == f"\r\n+QIRD: {len(NASTY)},10,{rest}\r\n".encode() + OK
        )
        port.write(b"AT+QIRD=0,1500\r")
        want = f"\r\n+QIRD: {rest}\r\n".encode() + NASTY[10:] + b"\r\n" + OK
        assert port.read_until(want) == want
        assert port.command("AT+QIRD=0,1500") == b"\r\n+QIRD: 0\r\n" + OK


def test_udp_datagrams_both_ways_in_push_and_buffer_mode():
    with quectel() as (_emu, port), SimPeer(port.master) as echo:
        online(port)
        eport = echo.port
        assert port.command(f'AT+QIOPEN=1,2,"UDP","127.0.0.1",{eport},0,1') == OK
        port.read_until(b"+QIOPEN: 2,0\r\n")
        assert send_data(port, "AT+QISEND=2,4", b"\r\n\x00\x1a", b"SEND OK\r\n")
        data, addr = echo.recvfrom()  # sent before SEND OK: there already
        assert data == b"\r\n\x00\x1a"
        echo.sendto(b"pong\r\n", addr[1])
        assert port.read_until(b"pong\r\n").endswith(b'\r\n+QIURC: "recv",2,6\r\npong\r\n')
        assert port.command(f'AT+QIOPEN=1,3,"UDP","127.0.0.1",{eport},0,0') == OK
        port.read_until(b"+QIOPEN: 3,0\r\n")
        send_data(port, "AT+QISEND=3,2", b"hi", b"SEND OK\r\n")
        data, addr = echo.recvfrom()
        echo.sendto(b"A\r\nB", addr[1])
        port.read_until(b'+QIURC: "recv",3\r\n')
        want = f'\r\n+QIRD: 4,"127.0.0.1",{eport}\r\nA\r\nB\r\n'.encode() + OK
        assert port.command("AT+QIRD=3,1500") == want


def test_qisend_without_length_ends_at_ctrl_z_and_esc_cancels():
    with quectel() as (_emu, port), TcpPeer(port.master) as peer:
        online(port)
        _open_tcp(port, peer)
        assert send_data(port, "AT+QISEND=0", b"hello\x1a", b"SEND OK\r\n") == b"\r\nSEND OK\r\n"
        assert peer.recv_exactly(5) == b"hello"
        assert send_data(port, "AT+QISEND=0", b"never\x1b", b"ERROR\r\n") == b"\r\nERROR\r\n"
        assert port.command("AT") == OK  # back in command mode


def test_qisend_on_a_socket_the_peer_closed_is_an_error():
    with quectel() as (_emu, port), TcpPeer(port.master) as peer:
        online(port)
        _open_tcp(port, peer)
        peer.shut()
        port.read_until(b'"closed",0\r\n')
        assert port.command("AT+QISEND=0,3") == b"\r\nERROR\r\n"


def test_dns_resolves_localhost_with_dnsgip_urcs():
    with quectel() as (_emu, port), TcpPeer(port.master) as peer:
        online(port)
        assert port.command('AT+QIDNSGIP=1,"localhost"') == OK
        urcs = port.read_until(b'"127.0.0.1"\r\n')
        assert urcs.endswith(
            b'\r\n+QIURC: "dnsgip",0,1,600\r\n\r\n+QIURC: "dnsgip","127.0.0.1"\r\n'
        )
        # names work in QIOPEN too
        assert port.command(f'AT+QIOPEN=1,4,"TCP","localhost",{peer.port},0,1') == OK
        peer.accept()
        assert port.read_until(b"+QIOPEN: 4,0\r\n")


def test_dns_failure_is_565():
    with quectel() as (_emu, port):
        online(port)
        assert port.command('AT+QIDNSGIP=1,"no-such-host.invalid"') == OK
        assert port.read_until(b'+QIURC: "dnsgip",565\r\n', timeout=10)


def test_pdp_deactivation_fault_kills_sockets_and_is_announced():
    faults = [{"kind": "pdpdeact", "at": 400.0}]  # 400 device s after power-on
    with quectel(faults=faults) as (emu, port), TcpPeer(port.master) as peer:
        online(port)
        _open_tcp(port, peer)
        assert port.read_until(b'+QIURC: "pdpdeact",1\r\n', timeout=500)
        # at 400 s after power-on (the master's epoch), plus the URC's wire time up to its
        # 500 us slot, plus the 1 us a deadline gains as whole microseconds (protocol.to_us)
        assert round((port.now() - EPOCH) * 1e6) == 400_002_501
        assert port.command("AT+QISEND=0,3") == b"\r\nERROR\r\n"
        assert port.command("AT+QIACT?") == OK
        assert emu.modem.stats["pdp_deactivations"] == 1
        # re-activation and a new socket bring the link back
        assert port.command("AT+QICLOSE=0") == OK
        assert port.command("AT+QIACT=1") == OK
        assert port.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},0,1') == OK
        assert port.read_until(b"+QIOPEN: 0,0\r\n")


def test_bad_arguments_get_cme_errors_not_hangs():
    with quectel() as (_emu, port):
        assert port.command("AT+CMEE=1") == OK
        assert port.command('AT+QIOPEN=1,0,"SCTP","127.0.0.1",5,0,1') == b"\r\n+CME ERROR: 50\r\n"
        assert port.command('AT+QIOPEN=1,0,"TCP","127.0.0.1",5,0,2') == b"\r\n+CME ERROR: 50\r\n"
        assert port.command("AT+QISEND=0,5000") == b"\r\nERROR\r\n"  # no such socket
        assert port.command("AT+QIRD=11") == b"\r\nERROR\r\n"
