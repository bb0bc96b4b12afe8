"""Judged conversations against the reference agent, end to end in process: the agent's
scripted replies provoke every termination condition; the report, conversations.jsonl
and the objectives agree with what the conversations said."""

from __future__ import annotations

import asyncio
import json

import pytest

from harness.metrics.loop_lag import LoopLagFigures
from harness.metrics.quality import QualityTimeline
from harness.persona.base import Burst, BurstRequest
from harness.report import CONVERSATIONS_FILE, Recorder
from harness.runtime import ProcessRuntime, RunSettings, conclude
from tests.support.conversations import converse_as, within
from tests.support.scenarios import make

SCALE = 0.05
FAST_AGENT = {"debounce_s": 1.0, "think_time_s": 0.5, "reply_parts": 1}


def judged(name: str, agent: dict | None = None, **fields):
    return make(
        name,
        # A first reply may take 60 s (3 s at this scale): a loop stall on a shared machine
        # must not turn a slow answer into a timeout and a second turn.
        **{"max_turns": 6, "collect": {"first_reply_timeout": 60}, **fields},
        persona={
            "script": {
                "openers": ["Hello, my order is {order}?"],
                "messages": ["What about my card?"],
                "closings": ["Thanks, perfect!"],
                "slots": {"order": ["A-4711"]},
            }
        },
        agent={**FAST_AGENT, **(agent or {})},
    )


SCENARIOS = [
    judged(
        "Stuck",
        {"replies": ["I am not sure I understand."]},
        termination_conditions=[{"type": "conversation_stuck", "turns": 2}],
    ),
    judged(
        "Solved",
        {"replies": ["Your new card is on its way."]},
        termination_conditions=[{"type": "agent_provides_solution"}],
    ),
    judged(
        "Escalated",
        {"escalate_after": 2},
        termination_conditions=[{"type": "escalation_needed"}],
        outcomes=[{"label": "escalated", "agent_keywords": ["specialist"]}],
    ),
    judged(
        "Silent",
        {"think_time_s": 1000},
        collect={"first_reply_timeout": 1.0},
        termination_conditions=[{"type": "agent_silent", "turns": 2}],
    ),
    judged(
        "Satisfied",
        max_turns=3,
        termination_conditions=[{"type": "user_expresses_satisfaction"}],
    ),
    judged(
        "Goal",
        {"replies": ["Let me check {messages}.", "Done: card ordered for order A-4711."]},
        min_turns=2,
        outcomes=[{"label": "resolved", "agent_keywords": ["ordered"]}],
        termination_conditions=[{"type": "goal_achieved"}],
        turn_evaluations=[{"type": "string_contains", "value": "A-4711"}],
        final_evaluations=[
            {"type": "context_retention", "test_memory_of": ["{order}"], "retention_turns": 2},
            {"type": "conversation_length", "min_turns": 2, "max_turns": 2},
            {"type": "execution_time", "max_ms": 5000},
        ],
        expect={"success_rate_min": 1.0, "goals_achieved_rate_min": 1.0},
    ),
    judged(
        "Forgetful",
        {"replies": ["Hello! Which card?"]},
        max_turns=2,
        final_evaluations=[{"type": "context_retention", "test_memory_of": ["{order}"]}],
        expect={"success_rate_min": 0.5},
    ),
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("judged")

    async def play():
        runtime = ProcessRuntime(RunSettings(time_scale=SCALE, report_dir=folder), SCENARIOS)
        await runtime.open()
        recorder = Recorder(timeline=runtime.timeline, conversations=folder / CONVERSATIONS_FILE)
        try:
            conversations = asyncio.gather(
                *(
                    runtime.converse(scenario, f"{scenario.name}-{n}", recorder)
                    for scenario in SCENARIOS
                    for n in range(2)
                )
            )
            results = await within(conversations, 60, "the judged conversations")
        finally:
            await runtime.close(within_s=5)
            recorder.close()
        conclusion = conclude(
            recorder, runtime.settings, runtime.scenarios, LoopLagFigures(), QualityTimeline()
        )
        return results, conclusion

    results, conclusion = asyncio.run(play())
    lines = [json.loads(line) for line in (folder / CONVERSATIONS_FILE).read_text().splitlines()]
    return {r.conversation_id: r for r in results}, conclusion, lines


@pytest.mark.parametrize(
    ("scenario", "end_reason", "turns", "success"),
    [
        ("Stuck", "conversation_stuck", 2, False),
        ("Solved", "agent_provides_solution", 1, True),
        ("Escalated", "escalation_needed", 3, True),  # the agent hands over after 2 batches
        ("Silent", "agent_silent", 2, False),
        ("Satisfied", "user_expresses_satisfaction", 3, True),  # the closing says thanks
        ("Goal", "goal_achieved", 2, True),
        ("Forgetful", "max_turns", 2, False),
    ],
)
def test_each_conversation_ends_for_its_reason_and_is_judged(
    run, scenario, end_reason, turns, success
):
    results, _, _ = run
    for n in range(2):
        result = results[f"{scenario}-{n}"]
        assert (result.end_reason, result.turns) == (end_reason, turns)
        assert result.judgment is not None and result.judgment.success is success


def test_the_goal_scenario_passes_every_evaluation_and_the_forgetful_one_does_not(run):
    results, _, _ = run
    goal = results["Goal-0"].judgment
    assert goal.outcome == "resolved" and goal.goals_achieved == goal.goals_total == 1
    assert {e.name: e.verdict for e in goal.evaluations} == {
        "turn.string_contains": "pass",
        "final.context_retention": "pass",
        "final.conversation_length": "pass",
        "final.execution_time": "pass",
    }
    forgetful = results["Forgetful-0"].judgment
    assert forgetful.first_failure is not None
    assert forgetful.first_failure.detail == "forgot 'A-4711'"
    assert forgetful.blame == "agent"


def test_the_report_adds_up_the_conversations_file(run):
    _, conclusion, lines = run
    assert len(lines) == 2 * len(SCENARIOS)
    assert {"conversation_id", "scenario", "persona", "personality", "engine", "outcome"} <= set(
        lines[0]
    )
    totals = conclusion.report.totals.judging
    assert totals is not None
    assert totals.conversations == len(lines)
    assert totals.successes == sum(line["success"] for line in lines)
    outcomes: dict[str, int] = {}
    for line in lines:
        outcomes[line["outcome"]] = outcomes.get(line["outcome"], 0) + 1
    assert totals.outcomes == dict(sorted(outcomes.items()))
    assert totals.blame == {"agent": sum(not line["success"] for line in lines)}
    stuck = conclusion.report.scenarios["Stuck"].judging
    assert stuck is not None and stuck.success_rate == 0.0


def test_judging_objectives_decide_the_exit_code(run):
    _, conclusion, _ = run
    verdicts = {(r.scenario, r.key): r.passed for r in conclusion.slo_results}
    assert verdicts == {
        ("Goal", "success_rate_min"): True,
        ("Goal", "goals_achieved_rate_min"): True,
        ("Forgetful", "success_rate_min"): False,
    }
    assert conclusion.exit_code == 3


class _LeavesOnTurnTwo:
    """A persona that says goodbye on its second turn: that turn is judged too."""

    async def next_burst(self, request: BurstRequest) -> Burst:
        return Burst(("Bye then.",) if request.turn else ("Hello?",), request.turn == 1)


async def test_the_turn_a_persona_leaves_on_is_judged():
    played = judged("Leaving", turn_evaluations=[{"type": "string_contains", "value": "said"}])
    result, _ = await converse_as(_LeavesOnTurnTwo(), played, "leaving")
    assert (result.end_reason, result.turns) == ("persona_ended", 2)
    assert [(e.turn, e.verdict) for e in result.judgment.evaluations] == [(0, "pass"), (1, "pass")]
