"""`nbkit bench --suite heap` reads what the heap watch prints at the end of each wake."""

from __future__ import annotations

from host_tools.bench import heap

LINES = [
    "nbkit: read 4 water 46 t=1764000900",
    "qstr pool: n_pool=6, n_qstr=815, n_str_data_bytes=8000, n_total_bytes=22000",
    "nbkit: heap peak 86976 free-min 204480 of 291456",
    "qstr pool: n_pool=6, n_qstr=1249, n_str_data_bytes=12000, n_total_bytes=27000",
    "nbkit: heap peak 121248 free-min 170208 of 291456",
    "MemoryError: memory allocation failed, allocating 464 bytes",
]


def test_each_wakes_peak_free_minimum_and_heap_are_read_and_memory_errors_counted():
    wakes, errors = heap.parse(LINES)
    assert wakes == [(86976, 204480, 291456), (121248, 170208, 291456)] and errors == 1


def test_the_most_names_a_wake_interned_is_read_from_the_pool_lines():
    assert heap.names_interned(LINES) == 1249 < heap.SIX_POOLS
    assert heap.names_interned(["nbkit: sleep 900 s"]) == 0
