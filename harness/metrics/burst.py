"""What one burst measures, from its timestamps alone (DESIGN.md, "What is measured").

A burst is n client messages acknowledged at s_1..s_n; the agent's messages arrive at
r_1..r_k (from s_1 until the reply collection closed). Then:

- ``first_reply`` = first r after s_n, minus s_n; ``complete_reply`` = last r minus s_n;
  ``reply_gaps`` = gaps between consecutive r after s_n.
- a *premature* message arrives in [s_1, s_n): the agent answered before the user was done.
- reply groups = the intervals [s_i, s_{i+1}) holding agent messages, plus one if any
  arrive after s_n. An agent that batches the burst scores 1.
- edits: a bot that streams by editing its message; complete_reply then runs to the
  final edit, and the edits are counted apart from messages.
- chat actions (``typing``...): ``first_action`` = first action after s_n, minus s_n:
  how long the user waits to see that the agent is at work. Counted apart from messages.
- debounce evidence: the burst's message times, the agent's message times inside the
  burst and the start of each reply (a reply ends after ``quiet_window`` of silence),
  relative to s_1, plus the reaction time F (start of the last reply after s_n, minus s_n).
  ``harness.metrics.debounce`` turns the evidence of many bursts into the estimate.

Times in, milliseconds (latencies) and seconds (pauses) out.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DebounceEvidence:
    """What one burst tells about the agent's debounce, in seconds relative to s_1."""

    sends: tuple[float, ...]
    arrivals: tuple[float, ...]
    reply_starts: tuple[float, ...]
    reaction: float


@dataclass(frozen=True, slots=True)
class BurstMeasurement:
    client_messages: int
    send_ms: tuple[float, ...]
    first_reply_ms: float | None
    complete_reply_ms: float | None
    reply_gaps_ms: tuple[float, ...]
    messages_in_reply: int
    edits_in_reply: int
    first_action_ms: float | None
    actions: int
    premature_messages: int
    reply_groups: int
    debounce_evidence: DebounceEvidence | None
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
    quiet_window: float,
    edits: Sequence[float] = (),
    actions: Sequence[float] = (),
) -> BurstMeasurement:
    """Measure one burst. ``arrivals`` (new agent messages) are sorted and none precedes
    ``send_acks[0]``; ``quiet_window`` (seconds) is the silence that separates two
    replies; ``edits`` are when the agent edited its messages (a bot that streams its
    answer by editing): they count toward ``complete_reply``, the time to the final
    edit, but are not messages. ``actions`` (sorted) are the chat actions it showed."""
    if not send_acks or len(send_calls) != len(send_acks):
        raise ValueError("a burst needs at least one send, with a call and an ack time each")
    acks = list(send_acks)
    last = acks[-1]
    split = bisect_left(arrivals, last)
    early, reply = arrivals[:split], arrivals[split:]
    groups = sum(
        bisect_left(early, end) > bisect_left(early, start)
        for start, end in itertools.pairwise(acks)
    )
    groups += bool(reply)
    late_edits = [t for t in edits if t >= last]
    after = bisect_left(actions, last)
    return BurstMeasurement(
        client_messages=len(acks),
        send_ms=tuple((ack - call) * 1000 for call, ack in zip(send_calls, acks, strict=True)),
        first_reply_ms=(reply[0] - last) * 1000 if reply else None,
        complete_reply_ms=(max([reply[-1], *late_edits]) - last) * 1000 if reply else None,
        reply_gaps_ms=tuple((b - a) * 1000 for a, b in itertools.pairwise(reply)),
        messages_in_reply=len(reply),
        edits_in_reply=len(late_edits),
        first_action_ms=(actions[after] - last) * 1000 if after < len(actions) else None,
        actions=len(actions),
        premature_messages=len(early),
        reply_groups=groups,
        debounce_evidence=_debounce_evidence(acks, arrivals, quiet_window),
        timed_out=timed_out,
    )


def _debounce_evidence(
    acks: Sequence[float], arrivals: Sequence[float], quiet_window: float
) -> DebounceEvidence | None:
    """None when the burst says nothing about debouncing: one message, or no reply."""
    last = acks[-1]
    starts = [t for i, t in enumerate(arrivals) if i == 0 or t - arrivals[i - 1] >= quiet_window]
    final = [t for t in starts if t >= last]
    if len(acks) < 2 or not final:
        return None
    first = acks[0]
    return DebounceEvidence(
        sends=tuple(t - first for t in acks),
        # Only those inside the burst tell which pause was answered; the reply's own are
        # its starts (a bot that answers in 10,000 messages leaves a small sample).
        arrivals=tuple(t - first for t in arrivals[: bisect_left(arrivals, last)]),
        reply_starts=tuple(t - first for t in starts),
        reaction=final[-1] - last,
    )
