# Test-only Transport over a tty path on the MicroPython unix port (the real tty transport,
# nbkit.hal.tty, is written on another branch). Contract of docs/architecture.md:
# write(data) -> int, read(n) -> bytes available now (b"" when none), wait(ms) -> bool, close().
import select
import termios


class PtyTransport:
    def __init__(self, path):
        self.f = open(path, "r+b")
        termios.setraw(self.f.fileno())
        self.poller = select.poll()
        self.poller.register(self.f, select.POLLIN)
        self.one = bytearray(1)

    def write(self, data):
        return self.f.write(data)

    def wait(self, timeout_ms):
        return bool(self.poller.poll(max(0, timeout_ms)))

    def read(self, n):
        # A blocking FileIO read waits for all n bytes, so take one byte at a time while
        # poll says more are ready.
        out = bytearray()
        while len(out) < n and self.poller.poll(0):
            if not self.f.readinto(self.one):
                break
            out.extend(self.one)
        return bytes(out)

    def close(self):
        self.f.close()
