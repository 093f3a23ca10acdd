"""The time master's wire protocol: one ASCII line per UDP datagram on 127.0.0.1.

participant -> master
    hello NAME                  register (or attach to a name a `join` announced); the master
                                answers ``now GEN T_US``
    idle NAME GEN DEADLINE MODE K=V ...
                                NAME is blocked: it waits for input or until DEADLINE (virtual
                                microseconds, ``-`` for none). MODE ``-``: pure virtual time;
                                ``p``: paced, it also waits for input from outside the rig (a
                                person or mpremote at the console), so time runs at wall speed
                                while it waits; ``pN``: paced at most N device seconds per wall
                                second (a rig driven from outside in wall time: the HIL suite's
                                virtual target); the slowest paced participant sets the rate;
                                ``e``: eager, told every advance. ``K=V``:
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
    paced: float,
    counters: dict[str, int],
    *,
    eager: bool = False,
) -> str:
    """The ``idle`` report of a blocked participant; ``paced``: 0/False not paced, 1/True at
    wall speed, N at most N device seconds per wall second."""
    dl = "-" if deadline_us is None else str(deadline_us)
    pairs = " ".join(f"{k}={v}" for k, v in sorted(counters.items()))
    mode = (
        "e" if eager and not paced else "-" if not paced else "p" if paced == 1 else f"p{paced:g}"
    )
    return f"idle {name} {gen} {dl} {mode} {pairs}".rstrip()


def pace_of(mode: str) -> float:
    """An ``idle`` MODE word -> device seconds per wall second it is paced at (0: not paced)."""
    if not mode.startswith("p"):
        return 0.0
    try:
        rate = float(mode[1:]) if len(mode) > 1 else 1.0
    except ValueError:
        return 1.0  # a mode this master cannot read: the safe side, wall speed
    return rate if 0 < rate < 1e9 else 1.0  # (NaN fails both)


def parse_counters(words: list[str]) -> dict[str, int]:
    """``K=V`` words of a report -> {channel-with-direction: count}; malformed words raise."""
    out: dict[str, int] = {}
    for word in words:
        key, _, value = word.rpartition("=")
        if not key or key[-1] not in "<>":
            raise ValueError(f"bad counter {word!r}")
        out[key] = int(value)
    return out
