"""The host's side of a virtual board's fork server (host_tools/vboard/zygote_server.py).

:meth:`Zygote.start` returns None where the unix port is not the ``micropython_run``
extension of this Python (a bare ``micropython`` binary): the board host then forks and
executes each boot itself, as before.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import socket
import subprocess
import sys
from pathlib import Path

from host_tools.errors import CommandError

_SERVER = Path(__file__).with_name("zygote_server.py")
_WAIT_S = 15.0  # for the server's answers (it forks and answers at once)


class Zygote:
    """A running fork server; :meth:`spawn` starts a boot, :meth:`status` reports its end."""

    def __init__(self, proc: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self.proc = proc
        self.sock = sock
        self.ended: dict[int, int] = {}  # pid -> wait status of the children that ended

    @classmethod
    def start(cls, env: dict[str, str]) -> Zygote | None:
        """A fork server with ``env`` (its NBKIT_ROM_IMAGE is mapped once, for every boot)."""
        spec = importlib.util.find_spec("micropython_run")
        if spec is None or not spec.origin:
            return None
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-S",
                str(_SERVER),
                os.path.dirname(spec.origin),
                str(theirs.fileno()),
            ],
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        zygote = cls(proc, mine)
        if zygote._answer() != ["ready"]:
            zygote.close()
            raise CommandError("the virtual board's fork server did not start")
        return zygote

    def fileno(self) -> int:
        return self.sock.fileno()

    def _answer(self) -> list[str]:
        """The next answer that is not a child's end (those are kept in :attr:`ended`)."""
        while True:
            ready, _, _ = select.select([self.sock], [], [], _WAIT_S)
            if not ready:
                raise CommandError(
                    f"the virtual board's fork server did not answer in {_WAIT_S:g} s"
                )
            words = self.sock.recv(256).decode().split()
            if not words:
                raise CommandError("the virtual board's fork server ended")
            if words[0] == "exit" and len(words) == 3:
                self.ended[int(words[1])] = int(words[2])
                continue
            return words

    def spawn(self, argv: list[str], env: dict[str, str], tty: int) -> int:
        """Start the unix port with ``argv`` (after the program name) and ``env`` on the pty
        ``tty`` (its controlling terminal and stdio); returns its pid."""
        request = json.dumps({"argv": argv, "env": env, "cwd": os.getcwd()}).encode()
        socket.send_fds(self.sock, [request], [tty])
        words = self._answer()
        if len(words) != 2 or words[0] != "pid":
            raise CommandError(f"the virtual board's fork server answered {words!r}")
        return int(words[1])

    def drain(self) -> None:
        """Take in every child's end the server has reported so far."""
        while select.select([self.sock], [], [], 0)[0]:
            words = self.sock.recv(256).decode().split()
            if not words:
                raise CommandError("the virtual board's fork server ended")
            if words[0] == "exit" and len(words) == 3:
                self.ended[int(words[1])] = int(words[2])

    def status(self, pid: int, block: bool) -> int | None:
        """The wait status of child ``pid`` once it has ended (None while it runs); ``block``:
        wait for its end."""
        self.drain()
        while block and pid not in self.ended:
            ready, _, _ = select.select([self.sock], [], [], _WAIT_S)
            if not ready:
                raise CommandError(f"board process {pid} did not end in {_WAIT_S:g} s")
            self.drain()
        return self.ended.pop(pid, None)

    def close(self) -> None:
        self.sock.close()  # the server sees the end of its socket and exits
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
