"""What one burst measures, from its timestamps alone (DESIGN.md, "What is measured").

A burst is n client messages acknowledged at s_1..s_n; the agent's messages arrive at
r_1..r_k (from s_1 until the reply collection closed). Then:

- ``first_reply`` = first r after s_n, minus s_n; ``complete_reply`` = last r minus s_n;
  ``reply_gaps`` = gaps between consecutive r after s_n.
- a *premature* message arrives in [s_1, s_n): the agent answered before the user was done.
- reply groups = the intervals [s_i, s_{i+1}) holding agent messages, plus one if any
  arrive after s_n. An agent that batches the burst scores 1.
- each pause s_{i+1} - s_i either held an agent message (it triggered a premature reply)
  or did not; the largest pause without and the smallest pause with one bracket the
  agent's debounce window, as seen from outside. A reply that lands after the next
  message was sent is counted in the pause it lands in, so the bracket is exact when the
  agent's think time is shorter than the pauses that trigger it.

Times in, milliseconds (latencies) and seconds (pauses) out.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BurstMeasurement:
    client_messages: int
    send_ms: tuple[float, ...]
    first_reply_ms: float | None
    complete_reply_ms: float | None
    reply_gaps_ms: tuple[float, ...]
    messages_in_reply: int
    premature_messages: int
    reply_groups: int
    pauses_without_premature_s: tuple[float, ...]
    pauses_with_premature_s: tuple[float, ...]
    timed_out: bool

    @property
    def premature(self) -> bool:
        return self.premature_messages > 0

    @property
    def agent_messages(self) -> int:
        return self.premature_messages + self.messages_in_reply


def measure_burst(
    send_calls: Sequence[float],
    send_acks: Sequence[float],
    arrivals: Sequence[float],
    timed_out: bool,
) -> BurstMeasurement:
    """Measure one burst. ``arrivals`` are sorted and none precedes ``send_acks[0]``."""
    if not send_acks or len(send_calls) != len(send_acks):
        raise ValueError("a burst needs at least one send, with a call and an ack time each")
    acks = list(send_acks)
    last = acks[-1]
    split = bisect_left(arrivals, last)
    early, reply = arrivals[:split], arrivals[split:]
    groups = 0
    without: list[float] = []
    with_premature: list[float] = []
    for start, end in itertools.pairwise(acks):
        pause = end - start
        held = bisect_left(early, end) > bisect_left(early, start)
        (with_premature if held else without).append(pause)
        groups += held
    groups += bool(reply)
    return BurstMeasurement(
        client_messages=len(acks),
        send_ms=tuple((ack - call) * 1000 for call, ack in zip(send_calls, acks, strict=True)),
        first_reply_ms=(reply[0] - last) * 1000 if reply else None,
        complete_reply_ms=(reply[-1] - last) * 1000 if reply else None,
        reply_gaps_ms=tuple((b - a) * 1000 for a, b in itertools.pairwise(reply)),
        messages_in_reply=len(reply),
        premature_messages=len(early),
        reply_groups=groups,
        pauses_without_premature_s=tuple(without),
        pauses_with_premature_s=tuple(with_premature),
        timed_out=timed_out,
    )
