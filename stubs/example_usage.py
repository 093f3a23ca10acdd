# What a MicroPython project typed against micropython-stubs and these stubs can write:
# `make typecheck` runs mypy over this file with the esp32 stubs and stubs/ on the path.
from nbkit.lte import timers
from nbkit.proto import frame

bits, granted = timers.encode_t3412(86400)
tau_s = timers.decode_t3412(bits)
cycle_ms: int | None = timers.decode_edrx_ms("0101")
payload, packed = frame.encode_data(1042, b"k" * 16, [(1, 1764000000, 1, 123456)])
device_id, records = frame.decode_data(payload, b"k" * 16)
seq, t, code, value = records[0]
size: int = len(payload) + packed + device_id + seq + t + code + value + (tau_s or 0)
