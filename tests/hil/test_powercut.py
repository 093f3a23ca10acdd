"""A power cut during a configuration write from the console, at every flash write index.

The virtual board counts flash modifications from boot and cuts the power at the N-th
(`cut N`). Before the `set`, the unlock writes the attempt count (before the compare, then 0
after it: docs/security.md); then N walks through every write of the `set`: the config file,
its rename, the event-log line. After each cut the board boots again and must hold the old or
the new configuration.
"""

from __future__ import annotations

import argparse

import pytest

from host_tools.device.provision import ConsoleClient, DeviceUnreachable, unlock

OLD, NEW = "900", "600"


def _session(target, timeout: float = 5.0) -> ConsoleClient:
    client = ConsoleClient.open(target.port, timeout=timeout)
    try:
        client.sync()
        args = argparse.Namespace(auth_key_file=target.auth[1], pin_file=None)
        unlock(client, args)
    except BaseException:
        client.close()  # the port is exclusive: a failed session must not lock out the next
        raise
    return client


def _fresh_session(target) -> ConsoleClient:
    # After a power cycle: the service window is open 0.2 s on the virtual board. A host too
    # busy to type within it gets one more power cycle; the cut under test is already over.
    try:
        return _session(target)
    except DeviceUnreachable:
        target.reset()
        return _session(target)


def _check_and_restore(target) -> dict[str, str]:
    # One session on the board as it booted after the cut: what it holds, then the old config.
    client = _fresh_session(target)
    try:
        cfg = client.check("get", "get").as_dict()
        client.check(f"set read_interval_s={OLD} leak_lph=30", "set")
        return cfg
    finally:
        client.command("exit")
        client.close()


@pytest.mark.virtual_only
def test_power_cut_at_every_write_of_a_console_set_leaves_old_or_new(service):
    target = service
    _check_and_restore(target)
    seen = []
    unlock_cuts = 0
    for n in range(1, 40):
        cuts = len(target.status()["cuts"])
        target.control(f"cut {n}")  # power cycle; the next boot fails at flash write n
        try:
            # the virtual board answers in milliseconds: a session the cut ended (in the
            # unlock's attempt count) is given up after a second, not the 5 s a tool waits
            client = _session(target, timeout=1.0)
        except DeviceUnreachable:  # the cut hit the unlock's attempt count: no answer, no set
            assert target.wait_for(lambda c=cuts: len(target.status()["cuts"]) > c, 3.0), n
            unlock_cuts = n
            target.reset()
            _check_and_restore(target)
            continue
        client.timeout = 0.3  # a set answers in milliseconds; no answer: the power failed
        try:
            reply = client.command(f"set read_interval_s={NEW} leak_lph=31")
        except DeviceUnreachable:
            reply = None
        finally:
            client.close()
        cut = target.wait_for(
            lambda c=cuts: len(target.status()["cuts"]) > c, 3.0 if reply is None else 0.2
        )
        assert cut or reply is not None, f"write {n}: no answer and no power cut"
        # power cycle again (this also disarms a cut the set did not reach) and read what the
        # flash holds in a fresh service window
        target.reset()
        cfg = _check_and_restore(target)
        assert cfg["device_id"] == "1042", (n, cfg)
        pair = (cfg["read_interval_s"], cfg["leak_lph"])
        assert pair in ((OLD, "30"), (NEW, "31")), (n, cfg)
        if reply is not None and reply.ok:
            assert pair == (NEW, "31"), ("an OK is durable", n, cfg)
        seen.append(pair[0])
        if not cut:
            break
    else:
        pytest.fail("the set never completed without a cut")
    print(
        f"unlock cut at write 1..{unlock_cuts}, set cut at write {unlock_cuts + 1}..{n - 1}: "
        f"old {seen.count(OLD)}, new {seen.count(NEW)}"
    )
    assert n - unlock_cuts >= 3 and OLD in seen and NEW in seen, (n, unlock_cuts, seen)
