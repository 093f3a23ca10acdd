"""The heap figures of `make bench` (suite firmware-size): measured in MicroPython on the build."""

from __future__ import annotations

from nbkit import profiles

from host_tools.bench import size as bench_size
from host_tools.device import boards, build


def test_every_profile_loads_within_the_board_heap_with_room_to_run(tmp_path):
    build.build_board(bench_size.BOARD, tmp_path)
    heap_bytes = boards.load(bench_size.BOARD)["heap_bytes"]
    for profile in profiles.names():
        common, total, heap = bench_size.profile_heap(
            tmp_path / bench_size.BOARD, profile, heap_bytes
        )
        assert 0 < common < total, (profile, common, total)
        # the modules leave a quarter of the heap for the wake itself (AT buffers, queue,
        # frames); a report wake parks the profile's meter modules before the modem stack loads
        # (app.wiring.MeterSlot), so this sum is more than a wake holds. The wakes themselves
        # are checked in the board's heap by tests/e2e/test_heap_budget.py.
        assert total < heap * 3 // 4, f"{profile}: modules take {total} of {heap} bytes"
