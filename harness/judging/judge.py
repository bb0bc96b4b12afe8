"""One conversation's judge: it reads the transcript as it is written, evaluates each
turn when its reply is in, says when a termination condition holds, and at the end
gives the outcome and the verdict."""

from __future__ import annotations

import typing
from collections import Counter
from collections.abc import Mapping, Sequence

from harness.judging.evaluate import evaluate_final, evaluate_turn
from harness.judging.outcome import UNRESOLVED, outcome_of
from harness.judging.terminate import holding
from harness.judging.transcript import Transcript
from harness.metrics.burst import BurstMeasurement
from harness.records import TranscriptEntry
from harness.scenario.judging import FinalEvaluation, TerminationCondition, TurnEvaluation
from harness.scenario.models import Scenario
from harness.verdicts import Blame, EvaluationResult, Judgment

TERMINATIONS = frozenset(
    typing.get_args(member.model_fields["type"].annotation)[0]
    for member in typing.get_args(typing.get_args(TerminationCondition)[0])
)
AGENT_FAILED = frozenset({"conversation_stuck", "agent_silent"})
"""Termination conditions that are the agent's failure, whatever else was said."""
ENDED_WELL = frozenset({"max_turns", "persona_ended"}) | (TERMINATIONS - AGENT_FAILED)
"""End reasons of a conversation that ran its course; any other (the agent stuck or
silent, an error, a timeout, an interruption, a transport's failure) makes it
unsuccessful whatever was said."""
AGENTS_FAULT = AGENT_FAILED | {"total_timeout", "send_timeout"}


class ConversationJudge:
    def __init__(self, scenario: Scenario, slots: Mapping[str, str]) -> None:
        self.scenario = scenario
        self.slots = dict(slots)
        self.transcript = Transcript()
        self._turn_names = _names(scenario.turn_evaluations, "turn")
        self._results: list[EvaluationResult] = []

    def add(self, entry: TranscriptEntry) -> None:
        self.transcript.add(entry)

    def after_turn(self, index: int, burst: BurstMeasurement) -> str | None:
        """Evaluate the turn whose reply is in; the termination condition that holds now."""
        turn = self.transcript.measured(index, burst.first_reply_ms, burst.timed_out)
        for name, evaluation in zip(self._turn_names, self.scenario.turn_evaluations, strict=True):
            verdict, score, detail = evaluate_turn(evaluation, turn)
            self._results.append(
                EvaluationResult(name, evaluation.type, "turn", index, verdict, score, detail)
            )
        return holding(self.scenario, self.transcript, turn)

    def conclude(self, end_reason: str, turns_played: int, duration_s: float) -> Judgment:
        scenario = self.scenario
        persona = scenario.persona
        results = list(self._results)
        finals = zip(
            _names(scenario.final_evaluations, "final"), scenario.final_evaluations, strict=True
        )
        for name, evaluation in finals:
            verdict, score, detail = evaluate_final(
                evaluation, self.transcript, turns_played, persona.language, self.slots
            )
            results.append(
                EvaluationResult(name, evaluation.type, "final", None, verdict, score, detail)
            )
        outcome = outcome_of(scenario.outcomes, self.transcript.texts("agent"))
        counted = [result for result in results if result.verdict != "skipped"]
        success = end_reason in ENDED_WELL and self._successful(counted, outcome)
        goals_total = 1 if scenario.outcomes else 0
        goals_achieved = int(bool(scenario.outcomes) and outcome != UNRESOLVED)
        return Judgment(
            outcome=outcome,
            success=success,
            score=_score(counted, success),
            evaluations=tuple(results),
            goals_achieved=goals_achieved,
            goals_total=goals_total,
            blame=_blame(success, end_reason, turns_played, scenario.min_turns),
            duration_s=round(duration_s, 6),
            persona=persona.name,
            personality=persona.personality,
            engine=persona.engine,
        )

    def _successful(self, counted: Sequence[EvaluationResult], outcome: str) -> bool:
        """The judgment strategy over the evaluations that were judged; with none, the
        outcome (when the scenario declares outcomes) decides."""
        if not counted:
            return not self.scenario.outcomes or outcome != UNRESOLVED
        passed = sum(result.verdict == "pass" for result in counted)
        judgment = self.scenario.judgment
        if judgment.strategy == "all_pass":
            return passed == len(counted)
        if judgment.strategy == "any_pass":
            return passed > 0
        return passed / len(counted) >= (judgment.threshold or 0.0)


def _names(evaluations: Sequence[TurnEvaluation | FinalEvaluation], scope: str) -> list[str]:
    """``turn.string_contains``; ``#2``, ``#3``... for a type used again in the scope."""
    seen: Counter[str] = Counter()
    names = []
    for evaluation in evaluations:
        seen[evaluation.type] += 1
        suffix = f"#{seen[evaluation.type]}" if seen[evaluation.type] > 1 else ""
        names.append(f"{scope}.{evaluation.type}{suffix}")
    return names


def _score(counted: Sequence[EvaluationResult], success: bool) -> float:
    scores = [result.score for result in counted if result.score is not None]
    if not scores:
        return 1.0 if success else 0.0
    return round(sum(scores) / len(scores), 4)


def _blame(success: bool, end_reason: str, turns: int, min_turns: int) -> Blame:
    """Whose failure it is: the simulated person's when it left before ``min_turns``, no
    one's when the run or the network cut it off, else the agent's."""
    if success:
        return "none"
    if end_reason == "persona_ended" and turns < min_turns:
        return "simulator"
    if end_reason in ENDED_WELL or end_reason in AGENTS_FAULT:
        return "agent"
    return "none"
