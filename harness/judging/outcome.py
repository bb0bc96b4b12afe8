"""The conversation's outcome: the first declared outcome whose rule the agent's messages
satisfy, else ``unresolved``."""

from __future__ import annotations

import re
from collections.abc import Sequence

from harness.judging.text import mentions_any
from harness.scenario.judging import Outcome

UNRESOLVED = "unresolved"


def outcome_of(outcomes: Sequence[Outcome], agent_texts: Sequence[str]) -> str:
    """Offline rules only: an ``llm_judge`` outcome is the judge's to give."""
    for outcome in outcomes:
        if outcome.agent_keywords is not None and mentions_any(agent_texts, outcome.agent_keywords):
            return outcome.label
        if outcome.agent_regex is not None and any(
            re.search(outcome.agent_regex, text) for text in agent_texts
        ):
            return outcome.label
    return UNRESOLVED
