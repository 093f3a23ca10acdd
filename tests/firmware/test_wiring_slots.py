# The heap-saving parts of app.wiring (issue 15, item 5): the link builds the modem stack at its
# first use only, and just before that the meter slot parks the meter: its state and wake pins
# are kept, its modules leave sys.modules, and anything else asked of it loads it again with
# the kept state restored.
import sys

from nbkit.app import wiring

HEAPSIZE = "256K"
_MOD = "nbkit.sense.events"  # a module the test meter's factory imports (not loaded before)


class Meter:
    made = 0

    def __init__(self):
        Meter.made += 1
        self.restored = None
        self.counts = 7

    def events(self):
        return []

    def read(self):
        return [(1, self.counts)]

    def state(self):
        return (self.counts, 3)

    def restore(self, state):
        self.restored = state

    def wake_pins(self):
        return {"tamper": 0}


def _make():
    __import__(_MOD)
    return Meter()


def test_a_parked_meter_keeps_its_state_and_wake_pins_and_leaves_its_modules():
    sys.modules.pop(_MOD, None)
    Meter.made = 0
    slot = wiring.MeterSlot(_make)
    assert _MOD in sys.modules and Meter.made == 1
    assert hasattr(slot, "events") and slot.read() == [(1, 7)]
    slot.park()
    assert _MOD not in sys.modules, "the meter's modules leave the heap"
    assert slot.state() == (7, 3)
    assert slot.wake_pins() == {"tamper": 0}
    assert Meter.made == 1, "state and wake pins are answered without loading the meter"


def test_a_parked_meter_asked_anything_else_loads_again_with_its_state():
    sys.modules.pop(_MOD, None)
    Meter.made = 0
    slot = wiring.MeterSlot(_make)
    slot.park()
    assert slot.read() == [(1, 7)]
    assert Meter.made == 2 and _MOD in sys.modules
    assert slot.restored == (7, 3), "the kept state goes back into the new meter"


def test_a_meter_without_wake_pins_has_none_when_parked():
    class Plain:
        def read(self):
            return []

    slot = wiring.MeterSlot(Plain)
    slot.park()
    assert not hasattr(slot, "wake_pins") and not hasattr(slot, "state")


class Board:
    board = {"modem": {"model": "bc28"}}


class BuiltLink:
    used = True
    modem = "the driver"


def test_the_link_builds_nothing_until_used_and_parks_the_meter_first():
    link = wiring.LazyLink(Board, {})
    calls = []
    link.before = lambda: calls.append("park")
    assert link.used is False and link._link is None, "a sampling wake loads no modem stack"
    saved = wiring._link
    wiring._link = lambda board, cfg: calls.append("build") or BuiltLink()
    try:
        assert link.used is False and calls == [], "asking whether it was used builds nothing"
        assert link.modem == "the driver"
        assert calls == ["park", "build"]
        assert link.used is True and calls == ["park", "build"], "built once"
        link.resends = 0
        assert link._link.resends == 0, "attributes set on the slot are the link's"
    finally:
        wiring._link = saved


_LINK_MOD = "nbkit.lte.rai"  # a module the test link's builder imports (not loaded before)


def _built_link(board, cfg):
    __import__(_LINK_MOD)
    return BuiltLink()


def test_one_stack_at_a_time_the_meter_coming_back_parks_the_link():
    # After the report the meter is asked again (alarms raised meanwhile, a sample due): the
    # modem stack leaves the heap first. The wake still knows the link was used; anything
    # else asked of it builds it again.
    sys.modules.pop(_MOD, None)
    sys.modules.pop(_LINK_MOD, None)
    link = wiring.LazyLink(Board, {})
    slot = wiring.MeterSlot(_make)
    link.before, slot.before = slot.park, link.park
    saved = wiring._link
    wiring._link = _built_link
    try:
        assert link.modem == "the driver" and _LINK_MOD in sys.modules
        assert _MOD not in sys.modules, "the meter parked before the modem stack loaded"
        assert slot.read() == [(1, 7)] and _MOD in sys.modules
        assert _LINK_MOD not in sys.modules, "the link parked before the meter loaded again"
        assert link._link is None and link.used is True, "a parked link was used"
        assert link.modem == "the driver" and _LINK_MOD in sys.modules, "built again"
        assert _MOD not in sys.modules
    finally:
        wiring._link = saved
