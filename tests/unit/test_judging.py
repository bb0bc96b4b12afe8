"""The offline judges on written transcripts: each termination condition and evaluator
both ways, the strategies, the keyword lists, and figures that merge exactly."""

from __future__ import annotations

import pytest

from harness.judging.judge import ConversationJudge
from harness.judging.text import mentions, mentions_any
from harness.metrics.burst import BurstMeasurement
from harness.metrics.judging import JudgingStats
from harness.records import TranscriptEntry
from harness.scenario.models import Scenario


def scenario(**fields) -> Scenario:
    return Scenario.model_validate({"name": "S", "max_turns": 10, **fields})


def measured(first_reply_ms: float | None = 100.0, timed_out: bool = False) -> BurstMeasurement:
    return BurstMeasurement(
        1, (1.0,), first_reply_ms, first_reply_ms, (), 1, 0, None, 0, 0, 1, None, timed_out
    )


async def play(
    judged: Scenario,
    turns: list[tuple[list[str], list[str]]],
    slots: dict[str, str] | None = None,
    first_reply_ms: list[float | None] | None = None,
) -> tuple[ConversationJudge, str | None, int]:
    """Feed the judge turn by turn as the engine does; stop where a condition holds."""
    judge = ConversationJudge(judged, slots or {})
    t = 0.0
    for index, (client, agent) in enumerate(turns):
        for role, texts in (("client", client), ("agent", agent)):
            for text in texts:
                t += 1.0
                judge.add(TranscriptEntry("c", "S", "user", index, role, text, t))
        latency = first_reply_ms[index] if first_reply_ms else 100.0
        ended = await judge.after_turn(index, measured(latency, timed_out=latency is None))
        if ended is not None:
            return judge, ended, index + 1
    return judge, None, len(turns)


async def verdicts(judge: ConversationJudge, turns: int, end_reason: str = "max_turns") -> dict:
    judgment = await judge.conclude(end_reason, turns, 1.0)
    return {
        e.name if e.scope == "final" else f"{e.name}@{e.turn}": e.verdict
        for e in judgment.evaluations
    }


def test_keywords_match_whole_words_and_phrases_in_any_script():
    assert mentions("Hi there", "hi") and not mentions("this is it", "hi")
    assert mentions("Your new card\nis on  its way", "is on its way")
    assert mentions("СПАСИБО, всё понятно", "спасибо")
    assert mentions_any(["nothing here", "a transfer then"], ["human", "transfer"])
    assert not mentions_any(["nothing here"], ["human", "transfer"])
    # Inflected endings count for longer words, in any language; short ones stay whole.
    assert mentions("Перевожу вас на специалиста.", "специалист")
    assert mentions("I transferred you", "transfer") and not mentions("a hint", "hi")


@pytest.mark.parametrize(
    ("condition", "turns", "ended_at"),
    [
        ({"type": "user_expresses_satisfaction"}, [(["help"], ["ok"]), (["thanks!"], ["np"])], 2),
        ({"type": "agent_provides_solution"}, [(["hi"], ["Your new card is on its way."])], 1),
        ({"type": "escalation_needed"}, [(["hi"], ["?"]), (["get me a human"], ["no"])], 2),
        ({"type": "escalation_needed", "keywords": ["boss"]}, [(["a human"], ["my boss"])], 1),
        ({"type": "agent_silent", "turns": 2}, [(["a"], ["x"]), (["b"], []), (["c"], [])], 3),
        (
            {"type": "conversation_stuck", "similarity": 0.8, "turns": 2},
            [(["a"], ["one two three"]), (["b"], ["I cannot help"]), (["c"], ["I cannot help"])],
            3,
        ),
        (  # the persona looping is stuck too
            {"type": "conversation_stuck"},
            [(["bye then"], ["what?"]), (["bye then"], ["hm, anything else?"])],
            2,
        ),
    ],
)
async def test_each_termination_condition_ends_the_conversation_when_it_holds(
    condition, turns, ended_at
):
    _, ended, at = await play(scenario(termination_conditions=[condition]), turns)
    assert (ended, at) == (condition["type"], ended_at)


@pytest.mark.parametrize(
    ("condition", "turns"),
    [
        ({"type": "user_expresses_satisfaction"}, [(["this is bad"], ["ok"])]),
        ({"type": "agent_provides_solution"}, [(["hi"], ["Let me check."])]),
        ({"type": "agent_silent", "turns": 2}, [(["a"], []), (["b"], ["here"])]),
        ({"type": "conversation_stuck"}, [(["a"], ["one two three"]), (["b"], ["four five six"])]),
        ({"type": "goal_achieved"}, [(["a"], ["Let me check."])]),
    ],
)
async def test_a_condition_that_does_not_hold_lets_the_conversation_go_on(condition, turns):
    outcomes = [{"label": "resolved", "agent_keywords": ["ordered"]}]
    _, ended, _ = await play(scenario(termination_conditions=[condition], outcomes=outcomes), turns)
    assert ended is None


async def test_no_condition_ends_a_conversation_before_min_turns():
    solved = [(["hi"], ["Done, it is resolved."])] * 3
    _, ended, at = await play(
        scenario(min_turns=3, termination_conditions=[{"type": "agent_provides_solution"}]), solved
    )
    assert (ended, at) == ("agent_provides_solution", 3)


async def test_goal_achieved_and_the_outcome_follow_the_first_matching_rule():
    judged = scenario(
        outcomes=[
            {"label": "escalated", "agent_keywords": ["specialist"]},
            {"label": "resolved", "agent_regex": r"order #\d+"},
        ],
        termination_conditions=[{"type": "goal_achieved"}],
    )
    judge, ended, at = await play(
        judged, [(["hi"], ["checking"]), (["so?"], ["Placed order #42."])]
    )
    assert (ended, at) == ("goal_achieved", 2)
    judgment = await judge.conclude("goal_achieved", 2, 1.0)
    assert (judgment.outcome, judgment.success, judgment.goals_achieved) == ("resolved", True, 1)


async def test_russian_personas_get_russian_keywords():
    judged = scenario(
        persona={"language": "ru"}, termination_conditions=[{"type": "agent_provides_solution"}]
    )
    _, ended, _ = await play(judged, [(["привет"], ["Ваша новая карта уже в пути."])])
    assert ended == "agent_provides_solution"


async def test_turn_evaluations_give_a_verdict_per_turn():
    judged = scenario(
        turn_evaluations=[
            {"type": "string_contains", "value": "Order"},
            {"type": "string_contains", "value": "Order", "case_sensitive": True},
            {"type": "regex_match", "pattern": r"\d{4}"},
        ]
    )
    judge, _, turns = await play(
        judged, [(["a"], ["your order 1234"]), (["b"], []), (["c"], ["Order?"])]
    )
    assert await verdicts(judge, turns) == {
        "turn.string_contains@0": "pass",
        "turn.string_contains#2@0": "fail",
        "turn.regex_match@0": "pass",
        "turn.string_contains@1": "fail",  # no reply at all
        "turn.string_contains#2@1": "fail",
        "turn.regex_match@1": "fail",
        "turn.string_contains@2": "pass",
        "turn.string_contains#2@2": "pass",
        "turn.regex_match@2": "fail",
    }


async def test_final_evaluations_both_ways():
    finals = [
        {"type": "conversation_length", "min_turns": 2, "max_turns": 3, "optimal_turns": 2},
        {
            "type": "conversation_flow",
            "required_patterns": ["question_then_answer", "greeting_first", "clarification_cycle"],
        },
        {
            "type": "conversation_flow",
            "required_patterns": ["empathy_then_solution", "closing_last"],
        },
        {"type": "user_satisfaction", "satisfaction_threshold": 0.6},
        {"type": "context_retention", "test_memory_of": ["{order}", "blue"], "retention_turns": 1},
        {"type": "execution_time", "max_ms": 500},
    ]
    good = [
        (["Hi, order 4711 is blue?"], ["Hello! Sorry to hear that."]),
        (["And?"], ["Order 4711 is resolved, the blue one. Anything else?"]),
        (["Thanks, great"], ["Bye"]),
    ]
    judge, _, turns = await play(scenario(final_evaluations=finals), good, {"order": "4711"})
    assert await verdicts(judge, turns) == {
        "final.conversation_length": "pass",
        "final.conversation_flow": "pass",
        "final.conversation_flow#2": "pass",
        "final.user_satisfaction": "pass",
        "final.context_retention": "pass",
        "final.execution_time": "pass",
    }
    bad = [
        (["Where is order 4711?"], []),
        (["Useless, this is terrible"], ["What?"]),
        (["Still not working"], ["What?"]),
        (["Angry now"], ["What?"]),
    ]
    judge, _, turns = await play(
        scenario(final_evaluations=finals), bad, {"order": "4711"}, [None, 100, 900, 100]
    )
    assert await verdicts(judge, turns) == {
        "final.conversation_length": "fail",
        "final.conversation_flow": "fail",
        "final.conversation_flow#2": "fail",
        "final.user_satisfaction": "fail",
        "final.context_retention": "fail",
        "final.execution_time": "fail",
    }


async def test_nothing_to_go_on_is_inconclusive_never_a_pass():
    finals = [
        {"type": "user_satisfaction"},
        {"type": "context_retention", "test_memory_of": ["{order}"]},
    ]
    judge, _, turns = await play(
        scenario(final_evaluations=finals), [(["hm"], ["ok"])], {"order": "9"}
    )
    judgment = await judge.conclude("max_turns", turns, 1.0)
    assert [e.verdict for e in judgment.evaluations] == ["inconclusive", "inconclusive"]
    assert not judgment.success  # all_pass: an inconclusive verdict is not a pass


@pytest.mark.parametrize(
    ("judgment", "success"),
    [
        ({"strategy": "all_pass"}, False),
        ({"strategy": "any_pass"}, True),
        ({"strategy": "threshold", "threshold": 0.5}, True),
        ({"strategy": "threshold", "threshold": 0.75}, False),
    ],
)
async def test_the_strategy_makes_the_verdict(judgment, success):
    finals = [
        {"type": "string_contains", "value": "yes"},
        {"type": "string_contains", "value": "no"},
    ]
    judge, _, turns = await play(
        scenario(final_evaluations=finals, judgment=judgment), [(["?"], ["yes"])]
    )
    assert (await judge.conclude("max_turns", turns, 1.0)).success is success


async def test_a_conversation_cut_short_is_unsuccessful_and_blamed_fairly():
    judged = scenario(min_turns=3, final_evaluations=[{"type": "string_contains", "value": "x"}])
    judge, _, _ = await play(judged, [(["a"], ["x"])])
    for reason, blame in [
        ("interrupted", "none"),
        ("flood_wait", "none"),
        ("total_timeout", "agent"),
        ("conversation_stuck", "agent"),
    ]:
        judgment = await judge.conclude(reason, 1, 1.0)
        assert (judgment.success, judgment.blame) == (False, blame), reason
    left = await judge.conclude("persona_ended", 1, 1.0)  # the persona left before min_turns
    assert left.success  # what was said passed...
    judged_fail = scenario(
        min_turns=3, final_evaluations=[{"type": "string_contains", "value": "y"}]
    )
    judge, _, _ = await play(judged_fail, [(["a"], ["x"])])
    assert (await judge.conclude("persona_ended", 1, 1.0)).blame == "simulator"
    assert (await judge.conclude("max_turns", 1, 1.0)).blame == "agent"


async def test_judging_figures_merge_exactly():
    judged = scenario(
        outcomes=[{"label": "resolved", "agent_keywords": ["done"]}],
        final_evaluations=[{"type": "string_contains", "value": "done"}],
    )
    plays = [[(["a"], ["done"])], [(["a"], ["no"]), (["b"], ["no"])], [(["a"], ["done"])] * 3]
    one, left, right = JudgingStats(), JudgingStats(), JudgingStats()
    for n, turns in enumerate(plays):
        judge, _, count = await play(judged, turns)
        judgment = await judge.conclude("max_turns", count, 0.5 * (n + 1))
        one.add(judgment, count)
        (left if n == 0 else right).add(judgment, count)
    merged = JudgingStats.from_state(left.to_state())
    merged.merge(JudgingStats.from_state(right.to_state()))
    report = merged.to_report()
    assert report == one.to_report()
    assert report["success_rate"] == pytest.approx(2 / 3)
    assert report["outcomes"] == {"resolved": 2, "unresolved": 1}
    assert report["turns"] == {"min": 1, "p50": 2, "max": 3, "mean": 2.0, "stddev": 0.816497}
    assert report["blame"] == {"agent": 1}
    assert report["by_personality"]["normal"]["mean_turns"] == 2.0


async def test_an_edit_replaces_the_message_it_edits():
    judged = scenario(
        final_evaluations=[{"type": "conversation_flow", "required_patterns": ["greeting_first"]}]
    )
    judge = ConversationJudge(judged, {})
    judge.add(TranscriptEntry("c", "S", "user", 0, "client", "hi", 1.0))
    judge.add(TranscriptEntry("c", "S", "user", 0, "agent", "Hel", 2.0))
    judge.add(
        TranscriptEntry("c", "S", "user", 0, "agent", "Hello! How can I help?", 3.0, edit=True)
    )
    await judge.after_turn(0, measured())
    assert judge.transcript.texts("agent") == ["Hello! How can I help?"]
    assert (await judge.conclude("max_turns", 1, 1.0)).success


async def test_an_outcome_that_is_not_the_goal_neither_ends_nor_succeeds():
    judged = scenario(
        outcomes=[{"label": "escalated", "agent_keywords": ["specialist"], "achieves_goal": False}],
        termination_conditions=[{"type": "goal_achieved"}],
    )
    judge, ended, _ = await play(judged, [(["help"], ["A specialist will call you."])])
    judgment = await judge.conclude("max_turns", 1, 1.0)
    assert ended is None and judgment.outcome == "escalated"
    assert not judgment.success and judgment.goals_achieved == 0 and judgment.goals_total == 1


async def test_conversations_with_no_verdict_stay_out_of_the_rates():
    judged = scenario(final_evaluations=[{"type": "string_contains", "value": "x"}])
    stats = JudgingStats()
    judge, _, _ = await play(judged, [(["a"], ["x"])])
    stats.add(await judge.conclude("max_turns", 1, 1.0), 1)  # a success
    cut = judge.conclude_now("interrupted", 1, 1.0)
    assert cut.excluded == "cut_off" and not cut.success and cut.blame == "none"
    stats.add(cut, 1)
    report = stats.to_report()
    assert report["success_rate"] == 1.0 and report["excluded"] == {"cut_off": 1}
    assert report["conversations"] == 1
