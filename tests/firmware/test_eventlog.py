# The event log on flash: a bounded ring of lines in two segments, newest kept, a torn last
# line skipped, the numbering continues after a reboot.
from nbkit.hal.clock import ManualClock
from nbkit.store.eventlog import EventLog
from store_bench import MOUNT, mount, new_image, umount

HEAPSIZE = "192K"
LOG = MOUNT + "/events.log"


def test_the_log_keeps_the_newest_lines_in_order_and_stays_bounded():
    mount(new_image(None))
    log = EventLog(LOG, lines=6)
    for i in range(20):
        log.append("event %d" % i)
    lines = log.tail(100)
    assert 3 <= len(lines) <= 6, lines
    assert lines[-1] == "19 event 19" and lines[0].endswith("event %d" % (20 - len(lines)))
    assert log.tail(2) == ["18 event 18", "19 event 19"]
    umount()


def test_numbering_continues_after_a_reboot_and_a_torn_line_is_skipped():
    image = new_image(None)
    mount(image)
    clock = ManualClock()
    log = EventLog(LOG, lines=6, clock=clock)
    for i in range(4):
        log.append("e%d" % i)
    with open(LOG + ".%d" % log._cur, "a") as f:
        f.write("99 half a li")  # power cut in the middle of an append
    umount()
    mount(image)
    log = EventLog(LOG, lines=6)
    got = log.tail(10)
    assert got == ["%d t=%d e%d" % (i, clock.time(), i) for i in range(4)], got
    log.append("after\x01reboot" + "x" * 200)
    last = log.tail(1)[0]
    assert last.startswith("4 after?reboot") and len(last) == 96, last
    umount()
