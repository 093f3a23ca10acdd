"""The meter cycle after the service window: a reading reaches the collector."""

from __future__ import annotations

import pytest

from host_tools.hil.plugin import close_window


@pytest.mark.needs_collector
def test_an_uplink_reaches_the_collector_after_the_window(service):
    hil_target = service  # reset, its service window held open by a first command
    before = len(hil_target.uplinks())
    close_window(hil_target.port)
    assert hil_target.wait_for(lambda: len(hil_target.uplinks()) > before, 60), (
        "no uplink reached the collector within 60 s"
    )
    event = hil_target.uplinks()[-1]
    assert event["device"] == 1042, event
