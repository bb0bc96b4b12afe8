"""Personas: the simulated people. ``create_persona`` picks the engine a scenario names."""

from __future__ import annotations

import random

from harness.persona.base import BurstRequest, PersonaEngine, decide_burst_size
from harness.persona.scripted import ScriptedPersona
from harness.persona.splitter import split_response_naturally
from harness.scenario.models import Persona


def create_persona(persona: Persona, rng: random.Random) -> PersonaEngine:
    """The persona engine for ``persona.engine`` (scripted now; llm and replay plug in here)."""
    engines = {"scripted": ScriptedPersona}
    return engines[persona.engine](persona, rng)


__all__ = [
    "BurstRequest",
    "PersonaEngine",
    "ScriptedPersona",
    "create_persona",
    "decide_burst_size",
    "split_response_naturally",
]
