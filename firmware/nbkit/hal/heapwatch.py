# Peak live heap of one wake, on the virtual board (`nbkit vboard --heap-watch`; `nbkit bench
# --suite heap`, `nbkit demo --heap-watch`). Every modem and meter-bus UART read and write and
# every flash block read, write and erase collects the garbage and samples gc.mem_alloc(): the
# live heap at the moments a wake holds the most (an AT dialog, a frame on its way, a state file
# being written). At the end of the wake (deepsleep, reset) the board prints
#   nbkit: heap peak <bytes> free-min <bytes> of <bytes>
# peak: the largest live heap sampled; free-min: the heap left at that moment. The collections
# make the wake slower and its garbage smaller: a budget check runs the wake without the watch
# in a heap of the budget's size (tests/e2e/test_heap_budget.py).
import gc

_peak = [0]


def sample():
    gc.collect()
    used = gc.mem_alloc()
    _peak[0] = max(_peak[0], used)


def line():
    # micropython.qstr_info() prints the names interned so far (never freed: the wake's most),
    # `qstr pool: n_pool=.., n_qstr=N, ...`, on the line before
    import micropython

    sample()
    micropython.qstr_info()
    total = gc.mem_alloc() + gc.mem_free()
    return "nbkit: heap peak %d free-min %d of %d" % (_peak[0], total - _peak[0], total)


def _watched(fn):
    def call(*args):
        sample()
        return fn(*args)

    return call


def watch(obj, names):
    # Sample before each of obj's methods `names` (instance attributes shadow the class's).
    if obj is not None:
        for name in names:
            setattr(obj, name, _watched(getattr(obj, name)))
    return obj


def install(board):
    # board: the nbkit.hal.unix_board module after boot opened its parts.
    state = board._state
    watch(state.get("modem"), ("read", "write"))
    watch(state.get("meterbus"), ("read", "write"))
    watch(state.get("flash"), ("readblocks", "writeblocks", "ioctl"))  # before the mount
    board._power = _ending(board._power)  # deepsleep, reset, power cut: the wake ends


def _ending(fn):
    def call(request):
        print(line())
        return fn(request)

    return call
