"""LLM personas through the real anthropic SDK, against a local Messages API server.

Conversations run whole (mock transport, reference agent) with the persona asking the
server; every figure is checked against what the server saw and answered. Redis is taken
from REDIS_URL (default redis://127.0.0.1:6379/0) under a key prefix per test, deleted
afterwards; without Redis the Redis test fails with the command that starts one.
"""

from __future__ import annotations

import json
import logging

import pytest

from harness.llm.cache import DiskCache, RedisCache
from harness.llm.gateway import LlmGateway
from harness.llm.request import GatewaySettings, LlmUnavailable
from harness.persona.llm import parse_burst
from harness.persona.services import LlmCacheSettings, PersonaServices, open_services
from harness.prices import PRICES, TokenUsage, cost_nano_usd
from harness.report import build_report
from harness.scenario.models import Scenario
from tests.fakes.anthropic_server import API_KEY, MessagesServer, instruction_of, requested_count
from tests.support.conversations import converse
from tests.support.redis_support import delete_prefix, new_prefix, redis_or_fail

SCENARIO = {
    "name": "Lost Order",
    "pattern": "C A",
    "max_turns": 3,
    "persona": {
        "name": "Max",
        "objective": "get the lost order resent",
        "style": "terse",
        "language": "en",
        "knowledge_level": "knows the order number",
        "emotional_state": "annoyed",
        "constraints": ["never gives a phone number"],
        "personality": "impatient",
        "multi_message_probability": 1.0,
        "max_messages_per_turn": 3,
        "engine": "llm",
        "llm": {"model": "claude-haiku-4-5", "max_tokens": 300, "effort": "low", "variants": 50},
        "script": {
            "openers": ["scripted opener {order}"],
            "messages": ["scripted message"],
            "closings": ["scripted closing"],
            "slots": {"order": ["#4411"]},
        },
    },
    "timing": {"inter_message_delays": [0.2], "think_time": 0.2},
    "collect": {"first_reply_timeout": 20, "quiet_window": 3, "max_collect": 30},
    "agent": {"debounce_s": 1.0, "think_time_s": 0.5, "reply_parts": 1},
}


def scenario(**persona: object) -> Scenario:
    data = json.loads(json.dumps(SCENARIO))
    data["persona"].update(persona)
    return Scenario.model_validate(data)


def gateway(server: MessagesServer, cache, **settings) -> LlmGateway:
    return LlmGateway(GatewaySettings(base_url=server.url, **settings), cache)


async def test_prompt_reverses_roles_and_marks_only_the_static_part_for_caching(server, tmp_path):
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path)))
    collected = await converse(services, scenario())
    bodies = [seen.body for seen in server.api.answered]
    assert len(bodies) == 3  # one request per turn
    sent = collected.texts("c0")
    replies = collected.texts("c0", "agent")
    last = bodies[-1]
    system = last["system"]
    assert len(system) == 1 and system[0]["cache_control"] == {"type": "ephemeral"}
    for expected in ("Max", "impatient", "terse", "get the lost order resent", "annoyed",
                     "never gives a phone number", "knows the order number", "'en'",
                     "patience low (0.1)"):  # fmt: skip
        assert expected in system[0]["text"], expected
    assert all(body["system"] == system for body in bodies)  # identical: cacheable
    roles = [message["role"] for message in last["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assistant_said = [b["text"] for m in last["messages"] if m["role"] == "assistant"
                      for b in m["content"]]  # fmt: skip
    user_said = [b["text"] for m in last["messages"][1:] if m["role"] == "user"
                 for b in m["content"] if not b["text"].startswith("[")]  # fmt: skip
    assert assistant_said == sent[: len(assistant_said)]  # the persona's own words
    assert user_said == replies[: len(user_said)]  # the agent's words, as the user's turns
    assert "#4411" in last["messages"][0]["content"][0]["text"]  # facts from the slots
    assert not any("cache_control" in block for m in last["messages"] for block in m["content"])
    assert last["output_config"]["format"]["type"] == "json_schema"
    assert last["output_config"]["effort"] == "low"
    assert "temperature" not in last and last["max_tokens"] == 300
    await services.close()


async def test_bursts_follow_the_instruction_and_an_oversized_one_is_capped(server, tmp_path):
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path)))
    collected = await converse(services, scenario(), count=4)
    asked = [requested_count(seen.body) for seen in server.api.answered]
    # multi_message_probability 1, at most 3: the persona asks for 1..2 or 1..3 messages
    assert set(asked) <= {2, 3} and len(asked) == 12
    assert all("as 1 to" in instruction_of(seen.body) for seen in server.api.answered)
    sent = sum(len(collected.texts(f"c{i}")) for i in range(4))
    assert sent == sum(asked)  # the server answers as many as asked: all of them are sent
    assert collected.usage("Lost Order").capped == 0
    await services.close()

    def five_messages(body: dict) -> str:
        return json.dumps({"messages": [f"m{k}" for k in range(5)], "end_conversation": False})

    server.api.reply = five_messages
    exact = Scenario.model_validate({**SCENARIO, "pattern": "C2 A", "max_turns": 1})
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path / "2")))
    capped = await converse(services, exact)
    assert "exactly 2 short" in instruction_of(server.api.answered[-1].body)
    assert capped.texts("c0") == ["m0", "m1 m2 m3 m4"]  # capped at 2, nothing dropped
    assert capped.usage("Lost Order").capped == 1
    await services.close()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("just one plain sentence", ["just one plain sentence"]),
        (json.dumps({"messages": [], "end_conversation": False}), None),
        ('{"messages": ["cut off', None),
        (json.dumps({"messages": "not a list", "end_conversation": False}), None),
    ],
)
async def test_an_answer_that_is_no_burst_falls_back_and_is_counted(
    server, tmp_path, answer, expected
):
    server.api.reply = lambda body: answer
    single = Scenario.model_validate({**SCENARIO, "pattern": "C1 A", "max_turns": 1})
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path)))
    collected = await converse(services, single)
    # plain text goes out as it is; broken JSON or nothing is no message: the scripted turn
    assert collected.texts("c0") == (expected or ["scripted closing"])
    assert collected.usage("Lost Order").fallback_bad_output == 1
    await services.close()


def test_a_long_plain_answer_is_split_at_sentence_ends():
    long = " ".join(f"Sentence number {k} is here to make this long enough." for k in range(8))
    parsed = parse_burst(long, 1, 3)
    assert parsed.outcome == "bad" and len(parsed.messages) == 3
    assert " ".join(parsed.messages) == long
    assert parse_burst('{"messages": ["a"], "end_conversation": true}', 1, 2).end_conversation


async def test_a_rate_limit_is_retried_after_retry_after_then_succeeds(server, tmp_path):
    server.api.retry_after = "0.3"
    server.api.fail_next("429")
    single = Scenario.model_validate({**SCENARIO, "pattern": "C1 A", "max_turns": 1})
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path), max_retries=2))
    collected = await converse(services, single)
    first, second = server.api.requests
    assert (first.status, second.status) == (429, 200)
    assert second.t - first.t >= 0.3  # the server's retry-after was honoured
    assert second.headers["x-stainless-retry-count"] == "1"
    usage = collected.usage("Lost Order")
    assert (usage.requests, usage.retries, usage.fallback_failed) == (1, 1, 0)
    assert collected.texts("c0") == ["turn 0 message 1 of 1"]
    await services.close()


async def test_retries_exhausted_fall_back_to_the_scripted_persona(server, tmp_path, caplog):
    server.api.fail_next("529", 2)
    server.api.fail_next("500", 1)
    single = Scenario.model_validate({**SCENARIO, "pattern": "C1 A", "max_turns": 2})
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path), max_retries=2))
    with caplog.at_level(logging.WARNING, logger="chatstorm"):
        collected = await converse(services, single)
    assert [seen.status for seen in server.api.requests] == [529, 529, 500, 200]
    assert collected.texts("c0")[0] == "scripted opener #4411"  # turn 0 played scripted
    assert collected.texts("c0")[1] == "turn 1 message 1 of 1"  # turn 1: the LLM again
    usage = collected.usage("Lost Order")
    assert (usage.fallback_failed, usage.retries, usage.requests) == (1, 2, 1)
    warnings = [r.getMessage() for r in caplog.records if "LLM request failed" in r.getMessage()]
    assert len(warnings) == 1 and "InternalServerError, HTTP 500" in warnings[0]
    await services.close()


async def test_token_accounting_matches_the_servers_usage(server, tmp_path):
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path)))
    collected = await converse(services, scenario(), count=3)
    answered = server.api.answered
    assert len(answered) == 9
    reported = json.loads(json.dumps(build_report(collected, {})))["scenarios"]["Lost Order"]
    usage = collected.usage("Lost Order")
    totals = TokenUsage()
    expected_cost = 0
    for seen in answered:
        served = seen.usage
        tokens = TokenUsage(
            served["input_tokens"],
            served["output_tokens"],
            served["cache_creation_input_tokens"],
            served["cache_read_input_tokens"],
        )
        expected_cost += cost_nano_usd(tokens, PRICES["claude-haiku-4-5"])
        totals = TokenUsage(
            totals.input + tokens.input,
            totals.output + tokens.output,
            totals.cache_write + tokens.cache_write,
            totals.cache_read + tokens.cache_read,
        )
    assert totals.cache_write > 0 and totals.cache_read > 0  # one write, then reads
    assert (usage.input_tokens, usage.output_tokens) == (totals.input, totals.output)
    assert (usage.cache_write_tokens, usage.cache_read_tokens) == (
        totals.cache_write,
        totals.cache_read,
    )
    assert usage.cost_nano_usd == expected_cost
    assert reported["llm"]["requests"] == 9
    assert reported["llm"]["cost_usd"] == pytest.approx(expected_cost / 1e9)
    assert reported["llm"]["tokens"]["cache_read"] == totals.cache_read
    await services.close()


@pytest.mark.parametrize("store", ["disk", "redis"])
async def test_a_repeated_run_replays_from_the_cache_without_a_request(server, tmp_path, store):
    prefix = new_prefix()

    async def cache():
        if store == "disk":
            return DiskCache(tmp_path / "cache")
        return RedisCache(await redis_or_fail(), prefix)

    try:
        services = PersonaServices(llm=gateway(server, await cache()))
        first = await converse(services, scenario(), count=3)
        await services.close()
        assert len(server.api.requests) == 9
        services = PersonaServices(llm=gateway(server, await cache()))
        second = await converse(services, scenario(), count=3)
        await services.close()
        assert len(server.api.requests) == 9  # not one more request
        for i in range(3):
            assert second.texts(f"c{i}") == first.texts(f"c{i}")
        usage = second.usage("Lost Order")
        assert (usage.cache_hits, usage.requests, usage.cost_nano_usd) == (9, 0, 0)
        assert first.usage("Lost Order").cost_nano_usd > 0
        if store == "redis":
            client = await redis_or_fail()
            assert len([key async for key in client.scan_iter(match=f"{prefix}:*")]) == 9
            await client.aclose()
    finally:
        if store == "redis":
            await delete_prefix(prefix)


async def test_variants_bound_how_many_distinct_conversations_are_paid_for(server, tmp_path):
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path)))
    two = scenario(llm={"model": "claude-haiku-4-5", "max_tokens": 300, "variants": 2})
    collected = await converse(services, two, count=6)
    assert len(server.api.answered) == 2 * 3  # two variants, three turns each
    assert collected.usage("Lost Order").cache_hits == 4 * 3
    assert collected.texts("c0") == collected.texts("c2") == collected.texts("c4")
    await services.close()


async def test_the_budget_stops_new_requests_and_says_so_once(server, tmp_path, caplog):
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path), budget_usd=1e-6))
    with caplog.at_level(logging.WARNING, logger="chatstorm"):
        collected = await converse(services, scenario())
    assert len(server.api.requests) == 1  # the first request spent more than the budget
    usage = collected.usage("Lost Order")
    assert (usage.requests, usage.fallback_budget) == (1, 2)
    assert "scripted closing" in collected.texts("c0")  # the conversation went on, scripted
    budget_lines = [r.getMessage() for r in caplog.records if "budget" in r.getMessage()]
    assert len(budget_lines) == 1 and "$1e-06" in budget_lines[0]
    await services.close()


async def test_the_persona_may_end_the_conversation(server, tmp_path):
    def leave_on_second_turn(body: dict) -> str:
        turn = sum(message["role"] == "assistant" for message in body["messages"])
        messages = ["ok bye"] if turn == 1 else ["hello?"]
        return json.dumps({"messages": messages, "end_conversation": turn == 1})

    server.api.reply = leave_on_second_turn
    long = Scenario.model_validate({**SCENARIO, "pattern": "C1 A", "max_turns": 6})
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path)))
    collected = await converse(services, long)
    (result,) = collected.ends
    assert (result.end_reason, result.turns) == ("persona_ended", 2)
    assert collected.texts("c0") == ["hello?", "ok bye"]
    assert len(collected.texts("c0", "agent")) == 2  # the goodbye was still answered

    server.api.reply = lambda body: json.dumps({"messages": [], "end_conversation": True})
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path / "silent")))
    silent = await converse(services, long)
    assert (silent.ends[0].end_reason, silent.ends[0].turns) == ("persona_ended", 0)
    assert silent.texts("c0") == []
    assert dict(silent.stats.scenario("Lost Order").end_reasons) == {"persona_ended": 1}
    await services.close()


async def test_llm_requests_in_flight_never_exceed_the_concurrency_limit(server, tmp_path):
    server.api.delay_s = 0.1
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path), concurrency=2))
    single = Scenario.model_validate({**SCENARIO, "pattern": "C1 A", "max_turns": 1})
    await converse(services, single, count=6)
    assert len(server.api.answered) == 6
    assert server.api.max_in_flight == 2
    await services.close()


async def test_the_api_key_appears_in_no_log_report_or_transcript(server, tmp_path, caplog):
    server.api.fail_next("500", 3)
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path), max_retries=1))
    with caplog.at_level(logging.DEBUG):
        collected = await converse(services, scenario())
    await services.close()
    usage = collected.usage("Lost Order")
    assert usage.fallback_failed == 1 and usage.requests == 2
    report = json.dumps(build_report(collected, {}))
    text = "\n".join(r.getMessage() for r in caplog.records) + report
    text += "\n".join(entry.text for entry in collected.messages)
    assert caplog.records and API_KEY not in text
    assert API_KEY[-12:] not in text


async def test_a_run_without_credentials_stops_with_a_one_line_fix(monkeypatch, tmp_path):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    cache = LlmCacheSettings(folder=tmp_path / "cache")
    with pytest.raises(LlmUnavailable) as caught:
        await open_services([scenario()], "0", GatewaySettings(), cache)
    message = str(caught.value)
    assert "\n" not in message and "ANTHROPIC_API_KEY" in message
    assert not cache.folder.exists()  # nothing made for a run that cannot start
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path / "no-profiles"))  # a broken setup
    with pytest.raises(LlmUnavailable, match="cannot load Anthropic credentials"):
        await open_services([scenario()], "0", GatewaySettings(), cache)
    scripted = Scenario.model_validate({**SCENARIO, "persona": {"engine": "scripted"}})
    services = await open_services([scripted], "0", GatewaySettings(), cache)
    assert services.llm is None  # scripted runs need no key


async def test_an_unwritable_cache_folder_is_one_line_naming_the_option(server, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = LlmCacheSettings(folder=blocker / "cache")
    with pytest.raises(OSError, match="--llm-cache-dir"):
        await open_services([scenario()], "0", GatewaySettings(base_url=server.url), cache)


async def test_a_malformed_response_body_falls_back_to_the_scripted_turn(server, tmp_path):
    server.api.fail_next("malformed")
    single = Scenario.model_validate({**SCENARIO, "pattern": "C1 A", "max_turns": 2})
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path), max_retries=0))
    collected = await converse(services, single)
    assert collected.ends[0].end_reason == "max_turns"
    assert collected.texts("c0") == ["scripted opener #4411", "turn 1 message 1 of 1"]
    assert collected.usage("Lost Order").fallback_failed == 1
    await services.close()


async def test_a_cache_that_fails_is_a_miss_said_once_not_a_lost_conversation(
    server, tmp_path, caplog
):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    services = PersonaServices(llm=gateway(server, DiskCache(blocker / "cache")))
    with caplog.at_level(logging.WARNING, logger="chatstorm"):
        collected = await converse(services, scenario())
    assert collected.ends[0].end_reason == "max_turns"
    assert collected.usage("Lost Order").requests == 3
    assert collected.texts("c0")[0].startswith("turn 0")
    assert sum("response cache failed" in r.getMessage() for r in caplog.records) == 1
    await services.close()


async def test_the_persona_is_told_its_goals_never_how_it_is_judged(server, tmp_path):
    data = json.loads(json.dumps(SCENARIO))
    data["goals"] = {
        "primary": "get order #4411 resent",
        "secondary": ["a tracking number"],
        "success_criteria": ["the agent confirms the resend"],
        "failure_conditions": ["the agent asks for a phone number"],
    }
    data["final_evaluations"] = [{"type": "string_contains", "value": "SECRET-RUBRIC"}]
    services = PersonaServices(llm=gateway(server, DiskCache(tmp_path)))
    await converse(services, Scenario.model_validate(data))
    system = server.api.answered[0].body["system"][0]["text"]
    for told in (
        "Goal: get order #4411 resent",
        "Also want: a tracking number",
        "Satisfied when: the agent confirms the resend",
        "Give up when: the agent asks for a phone number",
    ):
        assert told in system
    assert "SECRET-RUBRIC" not in json.dumps(server.api.answered[0].body)
