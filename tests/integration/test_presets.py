"""Personality presets: traits, burst probability and default timing, and typing time."""

from __future__ import annotations

import asyncio

import pytest

from harness.clock import Clock
from harness.conversation import run_conversation
from harness.scenario import ScenarioError, load_scenarios
from harness.scenario.models import Scenario, Timing
from harness.scenario.presets import PRESETS
from harness.transport.mock import MockTransport
from tests.support.observers import Collected


def preset(personality: str, **extra: object) -> Scenario:
    return Scenario.model_validate(
        {"name": personality, "persona": {"personality": personality}, **extra}
    )


def test_normal_is_the_plain_defaults():
    normal, plain = preset("normal"), Scenario(name="plain")
    assert normal.timing == plain.timing == Timing()
    assert normal.persona.traits == plain.persona.traits
    assert normal.persona.multi_message_probability == 0.3


@pytest.mark.parametrize("personality", sorted(PRESETS))
def test_each_preset_sets_its_traits_and_leaves_explicit_ones_alone(personality):
    expected = PRESETS[personality].traits()
    assert preset(personality).persona.traits.model_dump() == expected
    own = Scenario.model_validate(
        {"name": "x", "persona": {"personality": personality, "traits": {"patience": 0.77}}}
    )
    assert own.persona.traits.patience == 0.77
    assert own.persona.traits.tech_comfort == expected["tech_comfort"]


def test_an_impatient_person_pauses_less_and_bursts_more_an_elderly_one_types_slower():
    impatient, normal, elderly = preset("impatient"), preset("normal"), preset("elderly")
    assert (
        impatient.timing.think_time[1] < normal.timing.think_time[1] < elderly.timing.think_time[1]
    )
    pauses = [s.timing.inter_message_delays[0][1] for s in (impatient, normal, elderly)]
    assert pauses[0] < pauses[1] < pauses[2]
    assert elderly.timing.inter_message_delays[0][1] > 3 * normal.timing.inter_message_delays[0][1]
    probabilities = [s.persona.multi_message_probability for s in (impatient, normal, elderly)]
    assert probabilities[0] > probabilities[1] > probabilities[2]


def test_timing_the_scenario_gives_wins_over_the_preset():
    explicit = preset("elderly", timing={"think_time": [1, 2]}, persona={
        "personality": "elderly", "multi_message_probability": 0.9})  # fmt: skip
    assert explicit.timing.think_time == (1, 2)
    assert explicit.timing.inter_message_delays != Timing().inter_message_delays  # still derived
    assert explicit.persona.multi_message_probability == 0.9


async def test_typing_time_follows_the_typing_speed():
    """600 chars/min: a 50-character message takes 5 scenario seconds to type."""
    scale = 0.02
    scenario = Scenario.model_validate(
        {
            "name": "Typist",
            "pattern": "C2 A",
            "max_turns": 2,
            "persona": {
                "traits": {"typing_chars_per_min": 600},
                "script": {"openers": ["a" * 20 + ". " + "b" * 48 + "."]},
            },
            "timing": {"inter_message_delays": [1.0], "think_time": 0, "typing": True},
            "collect": {"first_reply_timeout": 20, "quiet_window": 1, "max_collect": 30},
            "agent": {"debounce_s": 10, "think_time_s": 0.1, "reply_parts": 1},
        }
    )
    clock = Clock(scale)
    transport = MockTransport(clock)
    collected = Collected()
    started = Clock.now()
    await asyncio.wait_for(run_conversation(transport, scenario, "t", clock, collected), 10)
    first, second = [e for e in collected.messages if e.role == "client" and e.turn == 0]
    assert (len(first.text), len(second.text)) == (21, 49)
    assert first.t - started == pytest.approx(2.1 * scale, abs=0.015)  # typing only
    assert second.t - first.t == pytest.approx((1.0 + 4.9) * scale, abs=0.015)  # pause + typing


def test_llm_settings_mistakes_are_reported_at_their_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: Bad LLM\n"
        "persona:\n"
        "  engine: llm\n"
        "  llm:\n"
        "    model: claude-unknown-9\n"
        "    max_tokens: 0\n"
        "    effort: extreme\n"
        "    base_url: ftp://example\n"
        "    temperature: 0.7\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([path])
    found = {(p.line, p.path): p.message for p in caught.value.problems}
    assert set(found) == {
        (6, "persona.llm.max_tokens"),
        (7, "persona.llm.effort"),
        (8, "persona.llm.base_url"),
        (9, "persona.llm.temperature"),
    }
    assert "unknown field" in found[9, "persona.llm.temperature"]
    path.write_text("name: Unpriced\npersona:\n  llm:\n    model: claude-unknown-9\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([path])
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (4, "persona.llm")
    assert "no price known for model 'claude-unknown-9'" in problem.message


def test_engine_settings_for_another_engine_are_an_error_not_ignored(tmp_path):
    path = tmp_path / "mixed.yaml"
    path.write_text("name: Mixed\npersona:\n  engine: scripted\n  llm: {model: claude-haiku-4-5}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([path])
    (problem,) = caught.value.problems
    assert problem.path == "persona" and "apply only with engine: llm" in problem.message


@pytest.mark.parametrize("engine", ["scripted", "llm"])
def test_a_scenario_survives_a_json_round_trip(engine):
    scenario = Scenario.model_validate({"name": "x", "persona": {"engine": engine}})
    assert Scenario.model_validate_json(scenario.model_dump_json()) == scenario
