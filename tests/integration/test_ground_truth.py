"""The harness's readings against the reference agent's own log (ground truth).

Several scenarios run concurrently in one run over the mock transport. Every scenario is
deterministic (fixed ranges), so each figure is known twice: from the agent's log, and
analytically from the settings. The oracle below is written independently of
``harness.metrics``: it works on the agent's timestamps, not the harness's.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.agent.reference import BatchRecord
from harness.clock import Clock
from harness.conversation import (
    TurnRecord,
    run_conversation,
)
from harness.metrics.debounce import estimate_debounce
from harness.scenario import load_scenarios
from harness.transport.mock import MockTransport
from tests.support.conversations import within
from tests.support.observers import Collected
from tests.support.scenarios import make

SCALE = 0.05  # one scenario second = 50 ms
TOLERANCE_MS = 3.0  # harness vs the agent's log: same moments, stamped on both sides
# Against the nominal settings, timers overshoot by the OS's scheduling jitter (a few ms on
# a busy 2-core machine); a real bug (a missed debounce, a lost part, no capacity limit)
# is off by tens of milliseconds or more.
JITTER_MS = 8.0
PLAY_WITHIN_S = 100.0  # the longest play (the shipped scenarios) takes about 31 s


SCENARIOS = {
    # Pauses (0.4 s) below the debounce (1 s): one batch per burst, one reply of 3 parts.
    "batched": (make("batched", pattern="C3 A3"), 4),
    # A 3 s pause after the first message: the agent answers it (2 parts) inside the pause.
    "premature": (
        make(
            "premature",
            pattern="C3 A2",
            timing={"inter_message_delays": [3.0, 0.4]},
            agent={"reply_parts": 2},
        ),
        3,
    ),
    # The agent never answers in time: every burst times out.
    "silent": (
        make(
            "silent",
            pattern="C1 A",
            agent={"think_time_s": 1000},
            collect={"first_reply_timeout": 1},
        ),
        2,
    ),
    # The reply (2 s after the message) misses the 1 s window and lands in the 3 s think time.
    "late": (
        make(
            "late",
            pattern="C1 A",
            timing={"think_time": 3.0},
            collect={"first_reply_timeout": 1.0},
            agent={"debounce_s": 0.5, "think_time_s": 1.5, "reply_parts": 1},
        ),
        2,
    ),
    # The agent thinks (2 s) longer than any pause (0.3-1.5 s): the answer to a pause over
    # the debounce lands after the next message, never inside the pause.
    "slow_thinker": (
        make(
            "slow_thinker",
            pattern="C2 A",
            max_turns=4,
            timing={"inter_message_delays": [[0.3, 1.5]], "think_time": 1.0},
            collect={"quiet_window": 2.0, "first_reply_timeout": 10, "max_collect": 20},
            agent={"debounce_s": 1.0, "think_time_s": 2.0, "reply_parts": 1},
        ),
        6,
    ),
    # One batch at a time: the fourth user waits for three others.
    "capacity": (
        make(
            "capacity",
            pattern="C1 A",
            max_turns=1,
            agent={"debounce_s": 0.2, "think_time_s": 0.5, "reply_parts": 1, "capacity": 1},
        ),
        4,
    ),
}


class Log(dict):
    """The reference agents' finished batches, by scenario: the ground truth."""

    def add(self, scenario: str, batch: BatchRecord) -> None:
        self.setdefault(scenario, []).append(batch)

    def close(self) -> None:
        """Kept in memory: nothing to close."""


async def play(scenarios: dict, scale: float) -> tuple[Collected, Log]:
    clock = Clock(scale)
    log = Log()
    transport = MockTransport(clock, log=log)
    collected = Collected()
    conversations = asyncio.gather(
        *(
            run_conversation(transport, scenario, f"{key}-{i}", clock, collected)
            for key, (scenario, count) in scenarios.items()
            for i in range(count)
        )
    )
    await within(conversations, PLAY_WITHIN_S, "the conversations")
    return collected, log


@pytest.fixture(scope="module")
def run() -> tuple[Collected, Log]:
    return asyncio.run(play(SCENARIOS, SCALE))


@dataclass
class Truth:
    """One burst as the agent saw it."""

    received: list[float]
    sent: list[float]  # agent messages from the burst's first message until the next burst

    @property
    def premature(self) -> int:
        return sum(1 for t in self.sent if self.received[0] <= t < self.received[-1])

    @property
    def after(self) -> list[float]:
        return [t for t in self.sent if t >= self.received[-1]]

    @property
    def groups(self) -> int:
        r = self.received
        held = sum(any(a <= t < b for t in self.sent) for a, b in itertools.pairwise(r))
        return held + bool(self.after)


def truths(log: Log, scenario: str, conversation_id: str, sizes: list[int]) -> list[Truth]:
    """Cut the agent's log for one chat into bursts of the given sizes."""
    batches = sorted(
        (b for b in log[scenario] if b.chat_id == conversation_id), key=lambda b: b.batch_no
    )
    received = [t for b in batches for _, t in b.received]
    sent = sorted(t for b in batches for _, t in b.sent)
    bursts, start = [], 0
    for size in sizes:
        bursts.append(received[start : start + size])
        start += size
    result = []
    for index, burst in enumerate(bursts):
        end = bursts[index + 1][0] if index + 1 < len(bursts) else float("inf")
        result.append(Truth(burst, [t for t in sent if burst[0] <= t < end]))
    return result


def compare_with_log(collected: Collected, log: Log, scenario: str) -> int:
    checked = 0
    by_conversation: dict[str, list[TurnRecord]] = defaultdict(list)
    for record in collected.turns_of(scenario):
        by_conversation[record.conversation_id].append(record)
    for conversation_id, records in by_conversation.items():
        records.sort(key=lambda r: r.turn)
        sizes = [r.burst.client_messages for r in records]
        for record, truth in zip(
            records, truths(log, scenario, conversation_id, sizes), strict=True
        ):
            burst = record.burst
            assert burst.premature_messages == truth.premature
            assert burst.reply_groups == truth.groups
            if burst.timed_out:
                continue
            expected_first = (truth.after[0] - truth.received[-1]) * 1000
            expected_complete = (truth.after[-1] - truth.received[-1]) * 1000
            assert burst.first_reply_ms == pytest.approx(expected_first, abs=TOLERANCE_MS)
            assert burst.complete_reply_ms == pytest.approx(expected_complete, abs=TOLERANCE_MS)
            assert burst.messages_in_reply == len(truth.after)
            checked += 1
    return checked


def test_batched_bursts_give_one_group_and_no_premature_reply(run):
    collected, log = run
    turns = collected.turns_of("batched")
    assert len(turns) == 4 * 2
    for record in turns:
        burst = record.burst
        assert burst.client_messages == 3
        assert burst.reply_groups == 1
        assert burst.premature_messages == 0
        assert burst.messages_in_reply == 3  # the whole multi-part reply
        # debounce 1.0 + think 0.6 after the last message; two gaps of 0.3 more.
        assert burst.first_reply_ms == pytest.approx(1.6 * SCALE * 1000, abs=JITTER_MS)
        assert burst.complete_reply_ms == pytest.approx(2.2 * SCALE * 1000, abs=JITTER_MS)
        assert burst.reply_gaps_ms == pytest.approx((0.3 * SCALE * 1000,) * 2, abs=JITTER_MS)
    batches = log["batched"]
    assert len(batches) == 8 and all(len(batch.received) == 3 for batch in batches)
    assert compare_with_log(collected, log, "batched") == 8


def test_premature_replies_are_the_ones_the_agent_really_sent(run):
    collected, log = run
    turns = collected.turns_of("premature")
    assert len(turns) == 3 * 2
    for record in turns:
        burst = record.burst
        assert burst.premature_messages == 2  # both parts of the answer to message 1
        assert burst.reply_groups == 2
        assert burst.messages_in_reply == 2
    batches = log["premature"]
    assert sorted(len(b.received) for b in batches) == [1] * 6 + [2] * 6
    assert compare_with_log(collected, log, "premature") == 6


def test_first_and_complete_reply_agree_with_the_log_everywhere(run):
    collected, log = run
    checked = sum(
        compare_with_log(collected, log, name) for name in ("batched", "premature", "capacity")
    )
    assert checked == 8 + 6 + 4


def test_every_agent_message_sent_is_in_the_transcript_once(run):
    collected, log = run
    for key in ("batched", "premature", "capacity"):
        sent = sorted(text for b in log[key] for text, _ in b.sent)
        seen = sorted(m.text for m in collected.messages if m.scenario == key and m.role == "agent")
        assert seen == sent


def test_a_silent_agent_gives_timeouts_not_latencies(run):
    collected, _ = run
    turns = collected.turns_of("silent")
    assert len(turns) == 2 * 2
    assert all(t.burst.timed_out and t.burst.first_reply_ms is None for t in turns)
    assert all(t.burst.reply_groups == 0 for t in turns)
    assert {e.end_reason for e in collected.ends if e.scenario == "silent"} == {"max_turns"}


def test_late_replies_are_counted_as_late_not_premature(run):
    collected, log = run
    turns = sorted(collected.turns_of("late"), key=lambda t: (t.conversation_id, t.turn))
    # Turn 0's reply lands in the think time before turn 1; turn 1 ends the conversation.
    assert [(t.turn, t.burst.timed_out) for t in turns] == [(0, True), (1, True)] * 2
    assert collected.late == {("late-0", 0): 1, ("late-1", 0): 1}
    assert all(t.burst.premature_messages == 0 for t in turns)
    late_texts = [m for m in collected.messages if m.scenario == "late" and m.role == "agent"]
    assert [m.turn for m in late_texts] == [0, 0]
    answered = [b for b in log["late"] if b.sent]
    assert len(answered) == 2


def test_capacity_makes_latency_grow_with_load(run):
    collected, _ = run
    firsts = sorted(t.burst.first_reply_ms for t in collected.turns_of("capacity"))
    # debounce 0.2 + think 0.5, one batch at a time: 0.7, 1.2, 1.7, 2.2 scenario seconds.
    expected = [s * SCALE * 1000 for s in (0.7, 1.2, 1.7, 2.2)]
    # Four batches in a row: each one's timer overshoot adds to the next. Without the
    # capacity limit the last three would come 25, 50 and 75 ms early.
    assert firsts == pytest.approx(expected, abs=2 * JITTER_MS)


def test_time_scale_applies_to_harness_and_agent():
    only = {"batched": (make("batched", pattern="C3 A3", max_turns=1), 2)}
    for scale in (0.04, 0.16):  # first reply 64 ms vs 256 ms
        collected, _ = asyncio.run(play(only, scale))
        for record in collected.turns:
            assert record.burst.first_reply_ms == pytest.approx(1.6 * scale * 1000, abs=JITTER_MS)
            sends = record.burst.debounce_evidence.sends  # relative to the first message
            assert sends == pytest.approx((0, 0.4 * scale, 0.8 * scale), abs=JITTER_MS / 1000)


def test_cancelled_conversation_counts_as_interrupted_not_timeout():
    scenario = make("stopped", pattern="C2 A", agent={"think_time_s": 50}, max_turns=3)

    async def main() -> Collected:
        clock = Clock(SCALE)
        transport = MockTransport(clock)
        collected = Collected()
        task = asyncio.create_task(run_conversation(transport, scenario, "s-1", clock, collected))
        # Cancel while the reply is being collected: the agent has closed the batch.
        while "stopped" not in transport.agents or not transport.agents["stopped"].closed_batches:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert transport.agents["stopped"].chat_ids() == []  # session closed on cancel
        return collected

    collected = asyncio.run(main())
    assert collected.turns == []
    (end,) = collected.ends
    assert end.end_reason == "interrupted" and end.bursts_interrupted == 1
    assert [m.role for m in collected.messages] == ["client", "client"]  # not lost


def test_total_timeout_ends_the_conversation():
    # A turn takes 3.7 s (reply 2.2, quiet window 1.0, think 0.5): two end by 7.4 s, the
    # third's message goes at 7.9 s and its reply would come at 10.1 s. The timeout falls
    # in the middle of that wait, far (80 ms real) from either edge: a stalled machine
    # cannot move it out.
    scenario = make("bounded", pattern="C1 A", total_timeout=9.5, max_turns=50)
    collected, _ = asyncio.run(play({"bounded": (scenario, 1)}, SCALE))
    (end,) = collected.ends
    assert end.end_reason == "total_timeout"
    assert len(collected.turns) == 2 and end.bursts_interrupted == 1


def debounce_of(collected: Collected, scenario: str) -> tuple[float, float]:
    samples = [t.burst.debounce_evidence for t in collected.turns_of(scenario)]
    return estimate_debounce([s for s in samples if s is not None])


def test_debounce_estimate_brackets_the_agents_window(run):
    collected, _ = run
    debounce = 1.0 * SCALE
    without, with_answer = debounce_of(collected, "premature")
    assert without == pytest.approx(0.4 * SCALE, abs=JITTER_MS / 1000)
    assert with_answer == pytest.approx(3.0 * SCALE, abs=JITTER_MS / 1000)
    assert without < debounce < with_answer


def test_debounce_estimate_holds_when_the_agent_thinks_longer_than_the_pauses(run):
    collected, log = run
    turns = collected.turns_of("slow_thinker")
    assert len(turns) == 6 * 4
    # The interval rule of "premature" sees nothing: every answer lands after the burst.
    assert all(t.burst.premature_messages == 0 for t in turns)
    # ...yet the agent did answer some first messages on their own:
    split = [b for b in log["slow_thinker"] if len(b.received) == 1]
    assert split, "the scenario should make the agent answer some first messages alone"
    without, with_answer = debounce_of(collected, "slow_thinker")
    margin = 2 / 1000  # the agent and the harness see the same pause, give or take 2 ms
    assert without < 1.0 * SCALE + margin
    assert with_answer > 1.0 * SCALE - margin


def test_debounce_brackets_of_the_shipped_scenarios_contain_their_agents_window():
    """The demo's own scenarios: realistic pauses, varying think times, multi-part replies.
    At 0.03 a machine stalled for 50-60 ms (seen on a busy host) misled the estimate
    both ways; at 0.1 such a stall is small beside the agents' windows."""
    scale = 0.1
    shipped = load_scenarios([Path(__file__).resolve().parents[2] / "scenarios"])
    runs = {s.name: (s.model_copy(update={"max_turns": 3}), 10) for s in shipped}
    collected, log = asyncio.run(play(runs, scale))
    margin = JITTER_MS / 1000
    checked = 0
    for scenario in shipped:
        without, with_answer = debounce_of(collected, scenario.name)
        window = scenario.agent.debounce_s * scale
        # A timer the machine stalls fires late: the agent then really waits longer than
        # its window (its log says how long) and leaves a longer pause unanswered.
        waited = max(
            (b.t_closed - b.received[-1][1] for b in log[scenario.name] if b.t_closed),
            default=window,
        )
        if without is not None:
            assert without < max(window, waited) + margin, (scenario.name, without, waited)
        if with_answer is not None:
            assert with_answer > window - margin, (scenario.name, with_answer, window)
        checked += without is not None and with_answer is not None
    assert checked >= 2  # the scenarios whose long pauses do trigger give both ends
