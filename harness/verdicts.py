"""What the judges say of a conversation: each evaluation's verdict and the conversation's
judgment. A leaf module: the figures (``metrics``) and the records both stand on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verdict = Literal["pass", "fail", "inconclusive", "error", "skipped"]
"""``skipped``: not judged (the LLM judge was off or out of budget); ``error``: the judge
failed to answer. Neither is a pass or a failure."""
Excluded = Literal["unjudged", "cut_off"]
"""Why a conversation has no verdict: nothing could be judged (every judgment skipped or
in error), or the run's stop cut it off."""
Blame = Literal["agent", "simulator", "none"]


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """One evaluation's verdict: of one turn (``scope`` turn) or of the conversation."""

    name: str
    """The evaluation across conversations: ``turn.string_contains``, ``final.llm_judge#2``."""
    type: str
    scope: Literal["turn", "final"]
    turn: int | None
    verdict: Verdict
    score: float | None
    detail: str

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "scope": self.scope,
            "turn": self.turn,
            "verdict": self.verdict,
            "passed": self.verdict == "pass",
            "score": self.score,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Judgment:
    """What a judged conversation came to."""

    outcome: str
    success: bool
    score: float
    evaluations: tuple[EvaluationResult, ...]
    goals_achieved: int
    goals_total: int
    blame: Blame
    duration_s: float
    persona: str
    personality: str
    engine: str
    excluded: Excluded | None = None
    """Set: the conversation has no verdict and stays out of the rates (``success`` is
    False)."""
    infrastructure: bool = False
    """It failed for the network or the harness (a transport lost, an error), not for
    anything the agent said or did."""
    slots: tuple[tuple[str, str], ...] = ()
    """The conversation's slot values, which ``{slot}`` criteria were judged with."""

    @property
    def first_failure(self) -> EvaluationResult | None:
        return next((e for e in self.evaluations if e.verdict == "fail"), None)
