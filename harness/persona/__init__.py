"""Personas: the simulated people. ``create_persona`` picks the engine a scenario names."""

from __future__ import annotations

import random

from harness.persona.base import Burst, BurstRequest, PersonaEngine, decide_burst_size
from harness.persona.llm import LlmPersona
from harness.persona.replay import ReplayPersona
from harness.persona.scripted import ScriptedPersona
from harness.persona.services import PersonaServices
from harness.persona.splitter import split_response_naturally
from harness.scenario.models import Scenario


def create_persona(
    scenario: Scenario, rng: random.Random, services: PersonaServices | None = None
) -> PersonaEngine:
    """The persona engine for ``scenario.persona.engine``. LLM and replay personas draw on
    the process's shared ``services``; ``rng`` is this conversation's own."""
    persona = scenario.persona
    if persona.engine == "scripted":
        return ScriptedPersona(persona, rng)
    services = services or PersonaServices()
    index = services.next_index(scenario.name)
    if persona.engine == "llm":
        if services.llm is None:
            raise ValueError(f"scenario {scenario.name!r} uses engine: llm, but no LLM is set up")
        return LlmPersona(
            scenario, services.llm, services.seed, index % persona.llm_settings.variants
        )
    assert persona.replay is not None  # the model requires it for engine: replay
    recordings = services.recordings_in(persona.replay.file)
    return ReplayPersona(persona, recordings[index % len(recordings)])


__all__ = [
    "Burst",
    "BurstRequest",
    "PersonaEngine",
    "PersonaServices",
    "ScriptedPersona",
    "create_persona",
    "decide_burst_size",
    "split_response_naturally",
]
