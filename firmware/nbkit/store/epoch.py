# The device's boot epoch (nbkit.proto.frame, version 2): records are named (epoch, seq), so a
# device whose sequence numbers may start again moves to a new epoch instead of reusing names
# the collector holds. One small JSON file (nbkit.store.statefile: atomic), written only when
# the epoch changes:
#   bump()        the queue state was damaged (app.wiring.build reads Queue.state_damaged)
#   move_to(n)    the collector's authenticated EPOCH answer: it holds our (epoch, seq) with other
#                 content (counters restored from an old image, a lost file); never goes back
# A missing or torn file reads as epoch 0; if that collides, the collector's answer moves on.
from nbkit.store import statefile

try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


_VERSION = const(1)
_MAX = const(0xFFFFFFFF)


class Epoch:
    def __init__(self, path="epoch"):
        # path None: kept in RAM only (tests, tools)
        self.path = path
        state = statefile.load(path, _VERSION) if path else None
        value = state.get("epoch") if state else 0
        self.value = value if isinstance(value, int) and 0 <= value <= _MAX else 0

    def bump(self):
        self.move_to(self.value + 1)

    def move_to(self, n):
        # -> True when the epoch changed (durable before it is used in a frame)
        if not self.value < n <= _MAX:
            return False
        if self.path:
            statefile.save(self.path, _VERSION, {"epoch": n})
        self.value = n
        return True
