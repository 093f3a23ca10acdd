# Peak live heap of a cycle, for the AT benches: a Transport wrapper that samples gc.mem_alloc()
# after a collection at every read and write (so garbage is not counted) and keeps the peak
# above a baseline. Everything else goes to the wrapped transport unchanged.
import gc


class HeapProbe:
    def __init__(self, inner, base):
        self.inner = inner
        self.base = base
        self.peak = 0

    def _sample(self):
        gc.collect()
        self.peak = max(self.peak, gc.mem_alloc() - self.base)

    def read(self, n):
        self._sample()
        return self.inner.read(n)

    def write(self, data):
        self._sample()
        return self.inner.write(data)

    def wait(self, timeout_ms):
        return self.inner.wait(timeout_ms)

    def close(self):
        self.inner.close()
