"""Outcomes: the first declared outcome whose rule the agent's messages satisfy is the
conversation's, else ``unresolved``. Keyword and regex rules are decided here; an
``llm_judge`` rule is the judge's (``harness.judging.judge``)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from harness.judging.text import mentions_any
from harness.scenario.judging import Outcome

UNRESOLVED = "unresolved"


def matches(outcome: Outcome, agent_texts: Sequence[str]) -> bool | None:
    """Whether the agent's messages show ``outcome``; None for the judge to decide."""
    if outcome.agent_keywords is not None:
        return mentions_any(agent_texts, outcome.agent_keywords)
    if outcome.agent_regex is not None:
        return any(re.search(outcome.agent_regex, text) for text in agent_texts)
    return None


def offline_outcome(outcomes: Sequence[Outcome], agent_texts: Sequence[str]) -> str | None:
    """The first outcome its offline rule shows, judge's outcomes passed over; None when
    there is no offline rule to go by."""
    ruled = [outcome for outcome in outcomes if outcome.llm_judge is None]
    if not ruled:
        return None
    return next((o.label for o in ruled if matches(o, agent_texts)), UNRESOLVED)


def achieves_goal(outcomes: Sequence[Outcome], label: str) -> bool:
    """Whether the outcome ``label`` is the person's goal reached."""
    return any(outcome.label == label and outcome.achieves_goal for outcome in outcomes)
