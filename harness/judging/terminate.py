"""Termination conditions, checked after every reply from ``min_turns`` on."""

from __future__ import annotations

from itertools import pairwise

from harness.judging.keywords import keywords
from harness.judging.outcome import achieves_goal, offline_outcome
from harness.judging.text import jaccard, mentions_any
from harness.judging.transcript import Transcript, TurnText
from harness.scenario.judging import (
    AgentSilent,
    AgentSolved,
    ConversationStuck,
    EscalationNeeded,
    GoalAchieved,
    TerminationCondition,
    UserSatisfied,
)
from harness.scenario.models import Scenario


def holds(
    condition: TerminationCondition, scenario: Scenario, transcript: Transcript, turn: TurnText
) -> bool | None:
    """Whether ``condition`` holds after ``turn``; None when only the judge can tell."""
    language = scenario.persona.language
    match condition:
        case UserSatisfied(keywords=chosen):
            return mentions_any(turn.client, chosen or keywords("satisfaction", language))
        case AgentSolved(keywords=chosen):
            return mentions_any(turn.agent, chosen or keywords("solution", language))
        case EscalationNeeded(keywords=chosen):
            sides = [*turn.client, *turn.agent]
            return mentions_any(sides, chosen or keywords("escalation", language))
        case ConversationStuck(similarity=similarity, turns=count):
            recent = transcript.turns(turn.index)[-count:]
            return len(recent) == count and (
                _alike([t.reply for t in recent], similarity)
                or _alike([t.burst for t in recent], similarity)
            )
        case AgentSilent(turns=count):
            recent = transcript.turns(turn.index)[-count:]
            return len(recent) == count and not any(t.agent for t in recent)
        case GoalAchieved():
            outcome = offline_outcome(scenario.outcomes, transcript.texts("agent"))
            return None if outcome is None else achieves_goal(scenario.outcomes, outcome)
    return None  # custom_condition


def _alike(texts: list[str], similarity: float) -> bool:
    """Every text says something, and each is like the one before it."""
    return all(texts) and all(jaccard(a, b) >= similarity for a, b in pairwise(texts))
