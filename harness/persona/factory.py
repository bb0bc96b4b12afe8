"""Which persona engine plays a conversation: scripted, llm or replay.

Only the engine a scenario names is imported: a run of scripted personas loads neither
the LLM gateway nor the recordings, nor what they stand on (Redis, the SDK).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from harness.persona.base import PersonaEngine
from harness.persona.scripted import ScriptedPersona
from harness.scenario.models import Scenario

if TYPE_CHECKING:
    from harness.persona.services import PersonaServices


def create_persona(
    scenario: Scenario, rng: random.Random, services: PersonaServices | None = None
) -> PersonaEngine:
    """The persona engine for ``scenario.persona.engine``. LLM and replay personas draw on
    the process's shared ``services``; ``rng`` is this conversation's own."""
    persona = scenario.persona
    if persona.engine == "scripted":
        return ScriptedPersona(persona, rng)
    if services is None:
        from harness.persona.services import PersonaServices

        services = PersonaServices()
    index = services.next_index(scenario.name)
    if persona.engine == "llm":
        from harness.persona.llm import LlmPersona

        if services.llm is None:
            raise ValueError(f"scenario {scenario.name!r} uses engine: llm, but no LLM is set up")
        return LlmPersona(
            scenario, services.llm, services.seed, index % persona.llm_settings.variants
        )
    from harness.persona.replay import ReplayPersona

    assert persona.replay is not None  # the model requires it for engine: replay
    recordings = services.recordings_in(persona.replay.file)
    return ReplayPersona(persona, recordings[index % len(recordings)])
