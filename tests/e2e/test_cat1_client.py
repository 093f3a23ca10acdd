"""The firmware's Cat1 TCP path end to end: queue -> frame -> TcpLink -> Ec200 -> real pty ->
a minimal EC200 stand-in (CPython) -> real TCP on 127.0.0.1 -> a collector stand-in that
verifies each length-prefixed frame and answers with a length-prefixed ack.

The pty side speaks the EC200 formats of at-modems.md §4 (raw QISEND after the prompt, direct
push `+QIURC: "recv",0,<len>` followed by the raw bytes); the full emulator persona and the real
collector are exercised by the host side's own e2e tests, which drive the same entry script.
"""

from __future__ import annotations

import os
import pty
import selectors
import socket
import struct
import threading
import tty
from pathlib import Path

import pytest
from nbkit.proto import frame

from tests.micropython_runner import run_micropython

HERE = Path(__file__).resolve().parent
KEY_HEX = "00112233445566778899aabbccddeeff"
DEVICE = 42
OK = b"\r\nOK\r\n"

REPLIES: dict[bytes, bytes] = {
    b"AT": OK,
    b"ATE0": OK,
    b"AT+CMEE=1": OK,
    b"AT+CPIN?": b"\r\n+CPIN: READY\r\n" + OK,
    b"AT+CEREG=2": OK,
    b"AT+CGREG=2": OK,
    b"AT+CFUN=1": OK,
    b"AT+CEREG?": b'\r\n+CEREG: 2,1,"1A2B","01A2B3C4",7\r\n' + OK,
    b"AT+QIACT?": b'\r\n+QIACT: 1,1,1,"10.0.0.2"\r\n' + OK,
    b"AT+QSCLK=1": OK,
}


class Collector(threading.Thread):
    """Accepts TCP connections; acks every authenticated frame, each ack in two TCP writes."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.records: list[tuple[int, int, int, int]] = []
        self.frames: list[bytes] = []

    def run(self) -> None:
        key = bytes.fromhex(KEY_HEX)
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                buf = b""
                while chunk := conn.recv(1024):
                    buf += chunk
                    while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                        n = struct.unpack(">H", buf[:2])[0]
                        data, buf = buf[2 : 2 + n], buf[2 + n :]
                        self.frames.append(data)
                        device, records = frame.decode_data(data, key)
                        self.records.extend(records)
                        ack = frame.ack_for(data, key)
                        wire = struct.pack(">H", len(ack)) + ack
                        conn.sendall(wire[:3])
                        conn.sendall(wire[3:])


class Ec200Pty(threading.Thread):
    """The module's side of the pty: AT commands in, real TCP out, pushed data back."""

    def __init__(self, master: int) -> None:
        super().__init__(daemon=True)
        self.master = master
        self.sock: socket.socket | None = None
        self.log: list[bytes] = []
        self.sel = selectors.DefaultSelector()
        self.sel.register(master, selectors.EVENT_READ)

    def _write(self, data: bytes) -> None:
        os.write(self.master, data)

    def run(self) -> None:
        buf = b""
        raw_need = 0
        while True:
            for key, _ in self.sel.select():
                if key.fileobj is self.sock:
                    data = self.sock.recv(1500)  # type: ignore[union-attr]
                    if not data:
                        self.sel.unregister(self.sock)
                        self._write(b'\r\n+QIURC: "closed",0\r\n')
                        continue
                    self._write(b'\r\n+QIURC: "recv",0,%d\r\n' % len(data) + data)
                    continue
                try:
                    buf += os.read(self.master, 4096)
                except OSError:
                    return
            while True:
                if raw_need:
                    if len(buf) < raw_need:
                        break
                    payload, buf = buf[:raw_need], buf[raw_need:]
                    self.sock.sendall(payload)  # type: ignore[union-attr]
                    raw_need = 0
                    self._write(b"\r\nSEND OK\r\n")
                    continue
                if b"\r" not in buf:
                    break
                line, buf = buf.split(b"\r", 1)
                self.log.append(line)
                raw_need = self._command(line)

    def _command(self, line: bytes) -> int:
        if line.startswith(b"AT+QIOPEN=1,0,"):
            host, port = line.split(b",")[3].strip(b'"'), int(line.split(b",")[4])
            self.sock = socket.create_connection((host.decode(), port))
            self.sel.register(self.sock, selectors.EVENT_READ)
            self._write(OK + b"\r\n+QIOPEN: 0,0\r\n")
        elif line.startswith(b"AT+QISEND=0,"):
            self._write(b"\r\n> ")
            return int(line.split(b",")[1])
        elif line == b"AT+QICLOSE=0" and self.sock is not None:
            self.sel.unregister(self.sock)
            self.sock.close()
            self.sock = None
            self._write(OK)
        else:
            self._write(REPLIES.get(line, b"\r\nERROR\r\n"))
        return 0


@pytest.mark.e2e
def test_cat1_tcp_client_delivers_every_reading_once_with_acks(tmp_path: Path) -> None:
    collector = Collector()
    collector.start()
    master, slave = pty.openpty()
    tty.setraw(master)
    modem = Ec200Pty(master)
    modem.start()
    args = [
        str(HERE / "cat1_client.py"),
        os.ttyname(slave),
        "ec200",
        "tcp",
        "127.0.0.1",
        str(collector.port),
        str(DEVICE),
        KEY_HEX,
        "5",
        str(tmp_path / "queue"),
    ]
    try:
        proc = run_micropython(args, heap="256K", timeout=60)  # compiled from source
    finally:
        os.close(slave)
        collector.server.close()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "queued 5 0" in out and "up 0 True" in out, out
    assert [line for line in out.splitlines() if line.startswith("ack ")] == [
        "ack 0 1",
        "ack 2 3",
        "ack 4 4",
    ], out
    assert "done 5 0" in out, out
    assert [r[0] for r in collector.records] == [0, 1, 2, 3, 4], collector.records
    assert [r[3] for r in collector.records] == [1000, 1001, 1002, 1003, 1004]
    assert b"AT+QSCLK=1" in modem.log and b"AT+QICLOSE=0" in modem.log, modem.log
