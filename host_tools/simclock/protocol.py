"""The time master's wire protocol: one ASCII line per UDP datagram on 127.0.0.1.

participant -> master
    hello NAME                  register (or attach to a name a `join` announced); the master
                                answers ``now GEN T_US``
    idle NAME GEN DEADLINE MODE K=V ...
                                NAME is blocked: it waits for input or until DEADLINE (virtual
                                microseconds, ``-`` for none). MODE ``-``: pure virtual time;
                                ``p``: paced, it also waits for input from outside the rig (a
                                person or mpremote at the console), so time runs at wall speed
                                while it waits. ``K=V``: cumulative counters, ``CHANNEL>`` bytes
                                or datagrams sent on CHANNEL, ``CHANNEL<`` received. GEN is the
                                generation of the last ``now`` it saw; older reports are stale.
                                A channel is held to balance only once its receiving side is
                                declared (a ``CHANNEL<`` key, 0 at first): what is sent where
                                nobody listens is lost, as a datagram to a closed port is.
    sync NAME                   what is the time? (answered ``sync GEN T_US``): a participant that
                                reported idle and then woke on input alone asks before it acts,
                                since the master may have moved time and the ``now`` meant for it
                                may still be on its way (the sender of that input got its own
                                ``now`` first)
    join NAME                   a participant is being started (a board's MicroPython process):
                                it counts as busy until its own reports arrive
    bye NAME                    NAME is gone (exited, powered down): its counters are kept, its
                                state no longer holds time back
    drop PREFIX                 forget every counter whose channel starts with PREFIX (a
                                per-boot channel whose far end is gone)
                                After a join, bye or drop its sender counts as busy until its
                                next ``idle`` (it is at work: a bye that balances a channel
                                must not let time move on the sender's older report).
master -> participant
    now GEN T_US                virtual time is T_US; every participant reports again for GEN
    sync GEN T_US               the answer to ``sync``: the master's generation and time
    fail TEXT                   the run is over because of TEXT (a deadlock, a stalled channel)
"""

from __future__ import annotations

import math

#: UDP payload limit the participants keep their reports under
MAX_DATAGRAM = 60000


def to_us(t: float) -> int:
    """A deadline in seconds as whole microseconds, never earlier than ``t``."""
    return math.floor(t * 1_000_000) + 1


def idle_line(
    name: str, gen: int, deadline_us: int | None, paced: bool, counters: dict[str, int]
) -> str:
    """The ``idle`` report of a blocked participant."""
    dl = "-" if deadline_us is None else str(deadline_us)
    pairs = " ".join(f"{k}={v}" for k, v in sorted(counters.items()))
    return f"idle {name} {gen} {dl} {'p' if paced else '-'} {pairs}".rstrip()


def parse_counters(words: list[str]) -> dict[str, int]:
    """``K=V`` words of a report -> {channel-with-direction: count}; malformed words raise."""
    out: dict[str, int] = {}
    for word in words:
        key, _, value = word.rpartition("=")
        if not key or key[-1] not in "<>":
            raise ValueError(f"bad counter {word!r}")
        out[key] = int(value)
    return out
