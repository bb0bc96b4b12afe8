"""The LLM judge through the real anthropic SDK, against the local Messages API: verdicts
both ways with the judge's blame, a cache hit on a repeated run, a spent budget counted
as unjudged, an answer that does not parse asked once more, and a run that needs the
judge refused without a key (or run with --no-judge, its LLM judgments skipped)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from harness.clock import Clock
from harness.conversation import engine, run_conversation
from harness.llm.request import GatewaySettings, LlmUnavailable
from harness.persona.services import LlmCacheSettings, open_services
from harness.scenario.models import Scenario
from harness.transport.mock import MockTransport
from tests.support.conversations import converse
from tests.support.observers import Collected
from tests.support.scenarios import make

QUESTION_PASSES = "Did the agent greet the customer?"
QUESTION_FAILS = "Did the agent solve the problem?"


def judged(**fields) -> Scenario:
    return make(
        "Judged",
        max_turns=2,
        agent={"replies": ["Hello! Let me look into it."], "reply_parts": 1},
        **fields,
    )


def verdict(body: dict) -> str:
    """The judge the tests run: it reads the question from the request it got."""
    content = body["messages"][-1]["content"][-1]["text"]
    assert "Transcript:" in content and "[turn 1] agent: Hello! Let me look into it." in content
    if QUESTION_PASSES in content:
        answer = {"verdict": "pass", "score": 0.9, "blame": "none"}
    elif "Has the customer achieved this goal" in content:
        answer = {"verdict": "pass", "score": 1.0, "blame": "none"}
    else:
        answer = {"verdict": "fail", "score": 0.1, "blame": "simulator"}
    return json.dumps({**answer, "reasoning": "as seen", "capabilities": {"empathy": True}})


async def services_for(server, tmp_path, played: Scenario, judge: bool = True, **gateway):
    settings = GatewaySettings(base_url=server.url, **gateway)
    return await open_services([played], "0", settings, LlmCacheSettings(tmp_path), judge)


async def test_the_judge_decides_evaluations_outcomes_and_conditions_both_ways(server, tmp_path):
    server.api.reply = verdict
    played = judged(
        outcomes=[{"label": "greeted", "llm_judge": {"prompt": QUESTION_PASSES}}],
        termination_conditions=[{"type": "goal_achieved"}],
        turn_evaluations=[{"type": "llm_judge", "prompt": QUESTION_PASSES}],
        final_evaluations=[
            {"type": "llm_judge", "prompt": QUESTION_FAILS, "capabilities": ["empathy"]}
        ],
    )
    assert played.needs_llm_judge
    services = await services_for(server, tmp_path, played)
    collected = await converse(services, played)
    await services.close()
    (result,) = collected.ends
    judgment = result.judgment
    assert result.end_reason == "goal_achieved" and result.turns == 1  # judged after turn 1
    assert judgment.outcome == "greeted"
    assert {e.name: e.verdict for e in judgment.evaluations} == {
        "turn.llm_judge": "pass",
        "final.llm_judge": "fail",
    }
    assert not judgment.success and judgment.blame == "simulator"  # the judge's word
    usage = collected.stats.scenario("Judged").persona_usage
    assert usage.requests == len(server.api.answered) == 4  # turn, condition, final, outcome
    assert usage.cost_nano_usd > 0
    system = server.api.answered[0].body["system"][0]["text"]
    assert "judge-1" in system and "get an answer" not in system  # no persona instructions


async def test_identical_conversations_are_judged_once(server, tmp_path):
    server.api.reply = verdict
    played = judged(final_evaluations=[{"type": "llm_judge", "prompt": QUESTION_PASSES}])
    for _ in range(2):  # a repeated run, the same cache folder
        services = await services_for(server, tmp_path, played)
        collected = await converse(services, played, count=2)
        await services.close()
        assert [e.judgment.success for e in collected.ends] == [True, True]
    assert len(server.api.answered) == 1  # c0 and c1 say the same: one question, ever
    assert collected.stats.scenario("Judged").persona_usage.cache_hits == 2


async def test_a_spent_budget_leaves_judgments_unjudged_not_failed(server, tmp_path):
    server.api.reply = verdict
    played = judged(final_evaluations=[{"type": "llm_judge", "prompt": QUESTION_FAILS}])
    services = await services_for(server, tmp_path, played, budget_usd=1e-9)
    services.llm.spent_nano_usd = 10  # spent already
    collected = await converse(services, played)
    await services.close()
    (evaluation,) = collected.ends[0].judgment.evaluations
    assert (evaluation.verdict, evaluation.detail) == ("skipped", "the LLM budget is spent")
    judgment = collected.ends[0].judgment  # nothing was judged: no verdict, either way
    assert (judgment.excluded, judgment.success, judgment.blame) == ("unjudged", False, "none")
    assert server.api.answered == []
    figures = collected.stats.to_report()["scenarios"]["Judged"]["judging"]
    assert figures["excluded"] == {"unjudged": 1} and figures["conversations"] == 0
    assert figures["evaluations"]["final.llm_judge"]["skipped"] == 1
    assert figures["success_rate"] is None  # out of the rates


async def test_an_answer_that_does_not_parse_is_asked_again_once_then_an_error(server, tmp_path):
    server.api.reply = lambda body: "I think it went well."
    played = judged(final_evaluations=[{"type": "llm_judge", "prompt": QUESTION_PASSES}])
    services = await services_for(server, tmp_path, played)
    collected = await converse(services, played)
    await services.close()
    (evaluation,) = collected.ends[0].judgment.evaluations
    assert evaluation.verdict == "error"
    assert len(server.api.answered) == 2
    judgment = collected.ends[0].judgment  # an error is neither a pass nor a failure
    assert (judgment.excluded, judgment.success) == ("unjudged", False)


async def test_without_a_key_the_judge_is_refused_unless_the_run_goes_without_it(
    monkeypatch, tmp_path
):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    played = judged(final_evaluations=[{"type": "llm_judge", "prompt": QUESTION_PASSES}])
    settings = GatewaySettings(base_url="http://127.0.0.1:9")
    with pytest.raises(LlmUnavailable, match=r"needs the LLM judge.*--no-judge"):
        await open_services([played], "0", settings, LlmCacheSettings(tmp_path))
    services = await open_services([played], "0", settings, LlmCacheSettings(tmp_path), False)
    collected = await converse(services, played)
    (evaluation,) = collected.ends[0].judgment.evaluations
    assert evaluation.verdict == "skipped" and "--no-judge" in evaluation.detail
    assert collected.ends[0].judgment.excluded == "unjudged"


@pytest.mark.parametrize(("answer_in_time", "verdict_seen"), [(True, "pass"), (False, "skipped")])
async def test_a_stop_waits_a_bounded_while_for_the_final_judgment(
    server, tmp_path, monkeypatch, answer_in_time, verdict_seen
):
    monkeypatch.setattr(engine, "JUDGING_GRACE_S", 5.0 if answer_in_time else 0.1)
    asked, release = threading.Event(), threading.Event()

    def slow_judge(body: dict) -> str:
        asked.set()
        release.wait(10)
        return verdict(body)

    server.api.reply = slow_judge
    played = judged(final_evaluations=[{"type": "llm_judge", "prompt": QUESTION_PASSES}])
    services = await services_for(server, tmp_path, played)
    clock, collected = Clock(0.05), Collected()
    transport = MockTransport(clock)
    conversation = asyncio.create_task(
        run_conversation(transport, played, "c0", clock, collected, "0", services)
    )
    try:
        assert await asyncio.to_thread(asked.wait, 30)  # the conversation is being judged
        conversation.cancel()  # the run stops
        if answer_in_time:
            release.set()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(conversation, 30)
    finally:
        release.set()
        await services.close()
        await transport.close()
    (result,) = collected.ends
    assert result.end_reason == "max_turns"  # it had ended: not an interruption
    assert [e.verdict for e in result.judgment.evaluations] == [verdict_seen]
