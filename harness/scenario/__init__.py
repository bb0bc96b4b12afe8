"""Scenarios: pydantic models, pattern syntax, YAML loading with line-accurate errors."""

from harness.scenario.loader import Problem, ScenarioError, load_scenarios
from harness.scenario.models import (
    AgentSettings,
    Collect,
    Expectations,
    Persona,
    Scenario,
    Script,
    Timing,
)
from harness.scenario.pattern import Step, Turn, iter_turns, parse_pattern

__all__ = [
    "AgentSettings",
    "Collect",
    "Expectations",
    "Persona",
    "Problem",
    "Scenario",
    "ScenarioError",
    "Script",
    "Step",
    "Timing",
    "Turn",
    "iter_turns",
    "load_scenarios",
    "parse_pattern",
]
