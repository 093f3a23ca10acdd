# Power cut at EVERY flash write index of a queue's life (littlefs2 image, 64 x 512 B blocks):
# after each reboot no acknowledged record returns, no corrupt record is returned, every
# unacknowledged returned record is still there (only the counted full-policy drops excepted),
# and sequence numbers are never reused. See qharness.py for the life and the checks.
import qharness

HEAPSIZE = "256K"  # the firmware plus two 32 KiB flash images held in RAM by the test
TIMEOUT_S = 60


def test_power_cut_at_every_write_index():
    tried, total = qharness.sweep(0, 1)
    assert tried == total and total > 50, (tried, total)


def test_power_cut_at_every_write_index_with_large_records():
    qharness.BIG = True
    tried, total = qharness.sweep(0, 1)
    assert tried == total and total > 50, (tried, total)


def test_the_harness_sees_a_cut_and_a_clean_life():
    _, obs, writes = qharness.run(None)
    full = len(obs.returned)
    assert full == 35 and len(obs.acked) > 20, (full, len(obs.acked))
    _, obs, _ = qharness.run(writes // 2)
    assert 0 < len(obs.returned) < full, "a cut halfway stops the life halfway"
