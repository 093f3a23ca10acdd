"""The time master's wire protocol: one ASCII line per UDP datagram on 127.0.0.1.

participant -> master
    hello NAME                  register (or attach to a name a `join` announced); the master
                                answers ``now GEN T_US``
    idle NAME GEN DEADLINE MODE K=V ...
                                NAME is blocked: it waits for input or until DEADLINE (virtual
                                microseconds, ``-`` for none). MODE ``-``: pure virtual time;
                                ``p``: paced, it also waits for input from outside the rig (a
                                person or mpremote at the console), so time runs at wall speed
                                while it waits; ``e``: eager, told every advance. ``K=V``:
                                cumulative counters, ``CHANNEL>`` bytes or datagrams sent on
                                CHANNEL, ``CHANNEL<`` received. GEN is the generation of the
                                last ``now`` (or ``time``) it saw; older reports are stale.
                                A channel is held to balance only once its receiving side is
                                declared (a ``CHANNEL<`` key, 0 at first): what is sent where
                                nobody listens is lost, as a datagram to a closed port is.
                                Only more sent than received is in flight: a receiver that
                                counts input from outside the rig too (a person's control
                                command) never holds time back for it.
    join NAME BY                a participant is being started (a board's MicroPython process):
                                it counts as busy until its own reports arrive
    bye NAME BY                 NAME is gone (exited, powered down): its counters are kept, its
                                state no longer holds time back
    drop PREFIX BY              forget every counter whose channel starts with PREFIX (a
                                per-boot channel whose far end is gone)
                                BY names the sender: it is busy from then until its next
                                ``idle`` (it is in the middle of something, or it would not
                                be sending these)
participant -> master
    ready NAME GEN              NAME has seen ``now GEN``: it will not act at the old time again
    when NAME                   input reached NAME while its ``idle`` report stood (it was not
                                told the advances since): what time is it? It is busy from then
                                until its next ``idle``
master -> participant
    now GEN T_US                virtual time will be T_US: answer ``ready``, do not act yet.
                                Sent only to the participants whose deadline T_US is, and to the
                                eager ones (MODE ``e`` in ``idle``: the rig while it watches);
                                every other report stands at the new time
    go GEN                      every participant told is ready: act at T_US, then report for
                                GEN. Input that arrives after ``now GEN`` also means go: whoever
                                sent it got ``go GEN`` first (two phases, so no participant can
                                see a peer's reaction at the new time before it knows the time)
    time GEN T_US [r]           the answer to ``when``: act at T_US (with ``r``: a ``now`` phase
                                is open, answer ``ready`` and act at its ``go``)
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
    name: str,
    gen: int,
    deadline_us: int | None,
    paced: bool,
    counters: dict[str, int],
    *,
    eager: bool = False,
) -> str:
    """The ``idle`` report of a blocked participant."""
    dl = "-" if deadline_us is None else str(deadline_us)
    pairs = " ".join(f"{k}={v}" for k, v in sorted(counters.items()))
    mode = "p" if paced else "e" if eager else "-"
    return f"idle {name} {gen} {dl} {mode} {pairs}".rstrip()


def parse_counters(words: list[str]) -> dict[str, int]:
    """``K=V`` words of a report -> {channel-with-direction: count}; malformed words raise."""
    out: dict[str, int] = {}
    for word in words:
        key, _, value = word.rpartition("=")
        if not key or key[-1] not in "<>":
            raise ValueError(f"bad counter {word!r}")
        out[key] = int(value)
    return out
