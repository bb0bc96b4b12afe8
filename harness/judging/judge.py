"""One conversation's judge: it reads the transcript as it is written, evaluates each
turn when its reply is in, says when a termination condition holds, and at the end
gives the outcome and the verdict.

Offline judgments are made at once. The LLM judge's (``llm_judge`` evaluations and
outcomes, ``custom_condition``, goals) go through ``LlmJudge``: a turn's evaluation runs
beside the conversation, a termination condition between turns (never inside a measured
interval), the final ones before the conversation is reported. Without the judge
(``--no-judge``) they are ``skipped``; for a conversation cut off (``conclude_now``),
those not answered yet are.
"""

from __future__ import annotations

import asyncio
import typing
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from harness.judging.evaluate import Finding, evaluate_final, evaluate_turn
from harness.judging.llm_judge import JudgeAnswer, LlmJudge
from harness.judging.outcome import UNRESOLVED, achieves_goal, matches
from harness.judging.terminate import holds
from harness.judging.transcript import Transcript
from harness.metrics.burst import BurstMeasurement
from harness.metrics.persona_usage import PersonaUsage
from harness.records import TranscriptEntry
from harness.scenario.judging import (
    CustomCondition,
    FinalEvaluation,
    GoalAchieved,
    LlmJudgeEvaluation,
    Outcome,
    TerminationCondition,
    TurnEvaluation,
)
from harness.scenario.models import Scenario
from harness.verdicts import Blame, EvaluationResult, Excluded, Judgment

TERMINATIONS = frozenset(
    typing.get_args(member.model_fields["type"].annotation)[0]
    for member in typing.get_args(typing.get_args(TerminationCondition)[0])
)
AGENT_FAILED = frozenset({"conversation_stuck", "agent_silent"})
"""Termination conditions that are the agent's failure, whatever else was said."""
ENDED_WELL = frozenset({"max_turns", "persona_ended"}) | (TERMINATIONS - AGENT_FAILED)
"""End reasons of a conversation that ran its course; any other (the agent stuck or
silent, an error, a timeout, a transport's failure) makes it unsuccessful whatever was
said. One the run's stop cut off (``interrupted``) has no verdict."""
AGENTS_FAULT = AGENT_FAILED | {"total_timeout", "send_timeout"}
NOT_JUDGED = ("skipped", "error")
"""Verdicts that are neither a pass nor a failure: left out of the strategy."""
NO_JUDGE: Finding = ("skipped", None, "the LLM judge is off (--no-judge)")
CUT_OFF: Finding = ("skipped", None, "the conversation was cut off before it was judged")


@dataclass(frozen=True)
class _Asked:
    """An LLM evaluation's verdict with the judge's blame."""

    result: EvaluationResult
    blame: Blame | None


@dataclass(frozen=True)
class _Asking:
    """A turn's LLM evaluation on its way."""

    task: asyncio.Task[_Asked]
    name: str
    evaluation: LlmJudgeEvaluation
    turn: int


class ConversationJudge:
    def __init__(
        self,
        scenario: Scenario,
        slots: Mapping[str, str],
        llm: LlmJudge | None = None,
        spent: Callable[[int, PersonaUsage], None] | None = None,
    ) -> None:
        """``llm``: the judge (None: LLM judgments are skipped); ``spent(turn, usage)``
        receives what each of its questions cost."""
        self.scenario = scenario
        self.slots = dict(slots)
        self.transcript = Transcript()
        self._llm = llm
        self._spent = spent
        self._turn_names = _names(scenario.turn_evaluations, "turn")
        self._results: list[EvaluationResult] = []
        self._asking: list[_Asking] = []

    def add(self, entry: TranscriptEntry) -> None:
        self.transcript.add(entry)

    async def after_turn(
        self, index: int, burst: BurstMeasurement, check_conditions: bool = True
    ) -> str | None:
        """Evaluate the turn whose reply is in; the termination condition that holds now
        (none asked with ``check_conditions`` False: a conversation judged again)."""
        turn = self.transcript.measured(index, burst.first_reply_ms, burst.timed_out)
        for name, evaluation in zip(self._turn_names, self.scenario.turn_evaluations, strict=True):
            if isinstance(evaluation, LlmJudgeEvaluation):
                self._ask_beside(name, evaluation, index)
                continue
            finding = evaluate_turn(evaluation, turn)
            self._results.append(_result(name, evaluation, "turn", index, finding))
        if not check_conditions or index + 1 < self.scenario.min_turns:
            return None
        for condition in self.scenario.termination_conditions:
            held = holds(condition, self.scenario, self.transcript, turn)
            if held is None:
                held = await self._judge_condition(condition, index)
            if held:
                return condition.type
        return None

    def _ask_beside(self, name: str, evaluation: LlmJudgeEvaluation, index: int) -> None:
        if self._llm is None:
            self._results.append(_result(name, evaluation, "turn", index, NO_JUDGE))
            return
        question = f"About the agent's reply in turn {index + 1}: {evaluation.prompt}"
        messages = list(self.transcript.messages)
        asking = self._ask(messages, question, evaluation.expected, evaluation.capabilities, index)
        task = asyncio.create_task(self._as_result(asking, name, evaluation, index))
        self._asking.append(_Asking(task, name, evaluation, index))

    async def _as_result(
        self,
        asking: typing.Awaitable[JudgeAnswer],
        name: str,
        evaluation: LlmJudgeEvaluation,
        turn: int | None,
    ) -> _Asked:
        answer = await asking
        scope = "turn" if turn is not None else "final"
        finding = (answer.verdict, answer.score, answer.reasoning)
        blame = answer.blame if answer.verdict == "fail" else None
        return _Asked(_result(name, evaluation, scope, turn, finding), blame)

    async def _judge_condition(self, condition: TerminationCondition, index: int) -> bool:
        """A condition only the judge can decide: ``custom_condition``, or
        ``goal_achieved`` with no keyword or regex outcome to go by."""
        if self._llm is None:
            return False
        if isinstance(condition, CustomCondition):
            question, threshold = condition.llm_judge.prompt, condition.llm_judge.threshold
        else:
            assert isinstance(condition, GoalAchieved)
            question, threshold = f"Has the customer achieved this goal: {self._goal}?", 0.5
        answer = await self._ask(list(self.transcript.messages), question, "yes", (), index)
        return _holds(answer, threshold)

    @property
    def _goal(self) -> str:
        goals = self.scenario.goals
        return (goals and goals.primary) or self.scenario.persona.objective

    async def _ask(
        self,
        messages: Sequence[tuple[str, int, str]],
        question: str,
        expected: str,
        capabilities: Sequence[str],
        turn: int,
    ) -> JudgeAnswer:
        assert self._llm is not None
        answer = await self._llm.ask(messages, question, expected, capabilities)
        if self._spent is not None and (answer.usage.requests or answer.usage.cache_hits):
            self._spent(turn, answer.usage)
        return answer

    async def conclude(self, end_reason: str, turns_played: int, duration_s: float) -> Judgment:
        """The verdict, once the judge has answered everything asked of it."""
        try:
            asked = [*await asyncio.gather(*(a.task for a in self._asking))]
        finally:
            self._stop_asking()
        last_turn = max(turns_played - 1, 0)
        finals: list[_Asked] = []
        for name, evaluation in self._final_evaluations():
            if isinstance(evaluation, LlmJudgeEvaluation):
                if self._llm is None:
                    finals.append(_Asked(_result(name, evaluation, "final", None, NO_JUDGE), None))
                    continue
                asking = self._ask(
                    list(self.transcript.messages),
                    evaluation.prompt,
                    evaluation.expected,
                    evaluation.capabilities,
                    last_turn,
                )
                finals.append(await self._as_result(asking, name, evaluation, None))
            else:
                finals.append(_Asked(self._offline_final(name, evaluation, turns_played), None))
        outcome = await self._outcome(last_turn)
        goals, met = await self._goals(last_turn)
        judged = [*asked, *finals, *goals]
        return self._judgment(end_reason, turns_played, duration_s, judged, outcome, met)

    def conclude_now(self, end_reason: str, turns_played: int, duration_s: float) -> Judgment:
        """The verdict at once (the conversation's task is cancelled, or it never began):
        the judge's answers already in count, those still open and every other LLM
        judgment are skipped."""
        asked = []
        for asking in self._asking:
            task = asking.task
            if task.done() and not task.cancelled() and task.exception() is None:
                asked.append(task.result())
            else:
                cut = _result(asking.name, asking.evaluation, "turn", asking.turn, CUT_OFF)
                asked.append(_Asked(cut, None))
        self._stop_asking()
        finals = [
            _Asked(
                _result(name, evaluation, "final", None, CUT_OFF)
                if isinstance(evaluation, LlmJudgeEvaluation)
                else self._offline_final(name, evaluation, turns_played),
                None,
            )
            for name, evaluation in self._final_evaluations()
        ]
        outcome = self._first_outcome(lambda outcome: matches(outcome, self._agent_texts))
        judged = [*asked, *finals]
        return self._judgment(end_reason, turns_played, duration_s, judged, outcome, None)

    def _stop_asking(self) -> None:
        for asking in self._asking:
            asking.task.cancel()
        self._asking.clear()

    @property
    def _agent_texts(self) -> list[str]:
        return self.transcript.texts("agent")

    def _final_evaluations(self) -> list[tuple[str, FinalEvaluation]]:
        evaluations = self.scenario.final_evaluations
        return list(zip(_names(evaluations, "final"), evaluations, strict=True))

    def _offline_final(
        self, name: str, evaluation: FinalEvaluation, turns_played: int
    ) -> EvaluationResult:
        language = self.scenario.persona.language
        finding = evaluate_final(evaluation, self.transcript, turns_played, language, self.slots)
        return _result(name, evaluation, "final", None, finding)

    def _first_outcome(self, matched: Callable[[Outcome], bool | None]) -> str:
        return next((o.label for o in self.scenario.outcomes if matched(o)), UNRESOLVED)

    async def _outcome(self, last_turn: int) -> str:
        """The first outcome whose rule holds; an ``llm_judge`` rule asks the judge."""
        for outcome in self.scenario.outcomes:
            matched = matches(outcome, self._agent_texts)
            if matched is None and self._llm is not None and outcome.llm_judge is not None:
                spec = outcome.llm_judge
                messages = list(self.transcript.messages)
                answer = await self._ask(messages, spec.prompt, "yes", (), last_turn)
                matched = _holds(answer, spec.threshold)
            if matched:
                return outcome.label
        return UNRESOLVED

    async def _goals(self, last_turn: int) -> tuple[list[_Asked], int | None]:
        """``goals.success_criteria``: how many the judge found met, and the goals as a
        whole (failure conditions included) as an evaluation of their own,
        ``final.goals``. Criteria go to the judge as ``c1``, ``c2``... so its answer need
        not repeat them word for word."""
        goals = self.scenario.goals
        if goals is None or not goals.success_criteria:
            return [], None
        name = "final.goals"
        if self._llm is None:
            return [_Asked(EvaluationResult(name, "goals", "final", None, *NO_JUDGE), None)], None
        keys = [f"c{n}" for n in range(1, len(goals.success_criteria) + 1)]
        criteria = "; ".join(
            f"{key}: {c}" for key, c in zip(keys, goals.success_criteria, strict=True)
        )
        question = f"Did the customer achieve their goal: {self._goal}?"
        if goals.secondary:
            question += f" Also wanted: {'; '.join(goals.secondary)}."
        if goals.failure_conditions:
            question += (
                f" Answer no if any of these happened: {'; '.join(goals.failure_conditions)}."
            )
        question += f" For each success criterion, say whether it was met ({criteria})."
        messages = list(self.transcript.messages)
        answer = await self._ask(messages, question, "yes", keys, last_turn)
        result = EvaluationResult(
            name, "goals", "final", None, answer.verdict, answer.score, answer.reasoning
        )
        met = None
        if answer.verdict not in NOT_JUDGED:
            met = sum(answer.capabilities.get(key, False) for key in keys)
        return [_Asked(result, answer.blame if answer.verdict == "fail" else None)], met

    def _judgment(
        self,
        end_reason: str,
        turns_played: int,
        duration_s: float,
        asked: Sequence[_Asked],
        outcome: str,
        met: int | None,
    ) -> Judgment:
        scenario = self.scenario
        persona = scenario.persona
        results = [*self._results, *(a.result for a in asked)]
        counted = [result for result in results if result.verdict not in NOT_JUDGED]
        excluded = self._excluded(end_reason, results, counted, outcome)
        success = excluded is None and end_reason in ENDED_WELL
        success = success and self._successful(counted, outcome)
        goals = scenario.goals
        if goals is not None and goals.success_criteria and met is not None:
            goals_total, goals_achieved = len(goals.success_criteria), met
        else:
            goals_total = 1 if scenario.outcomes else 0
            goals_achieved = int(achieves_goal(self.scenario.outcomes, outcome))
        judges_blame = next((a.blame for a in asked if a.blame is not None), None)
        inconclusive_only = bool(counted) and all(r.verdict != "fail" for r in counted)
        blame = _blame(
            success or excluded is not None,
            end_reason,
            turns_played,
            scenario.min_turns,
            judges_blame,
            inconclusive_only,
        )
        return Judgment(
            outcome=outcome,
            success=success,
            score=_score(counted, success),
            evaluations=tuple(results),
            goals_achieved=goals_achieved,
            goals_total=goals_total,
            blame=blame,
            duration_s=round(duration_s, 6),
            persona=persona.name,
            personality=persona.personality,
            engine=persona.engine,
            excluded=excluded,
            slots=tuple(sorted(self.slots.items())),
            infrastructure=not success
            and excluded is None
            and end_reason not in ENDED_WELL
            and end_reason not in AGENTS_FAULT,
        )

    def _excluded(
        self,
        end_reason: str,
        results: Sequence[EvaluationResult],
        counted: Sequence[EvaluationResult],
        outcome: str,
    ) -> Excluded | None:
        """No verdict: the run's stop cut the conversation off, or everything it was to be
        judged by went unanswered (skipped or in error) with no outcome to go by."""
        if end_reason == "interrupted":
            return "cut_off"
        offline_outcome = any(o.llm_judge is None for o in self.scenario.outcomes)
        if results and not counted and not offline_outcome and outcome == UNRESOLVED:
            return "unjudged"
        return None

    def _successful(self, counted: Sequence[EvaluationResult], outcome: str) -> bool:
        """The judgment strategy over the evaluations that were judged; with none, every
        reply must have come and the outcome (when the scenario declares outcomes) must
        achieve the goal."""
        if not counted:
            replied = not any(turn.timed_out for turn in self.transcript.turns())
            return replied and (
                not self.scenario.outcomes or achieves_goal(self.scenario.outcomes, outcome)
            )
        passed = sum(result.verdict == "pass" for result in counted)
        judgment = self.scenario.judgment
        if judgment.strategy == "all_pass":
            return passed == len(counted)
        if judgment.strategy == "any_pass":
            return passed > 0
        return passed / len(counted) >= (judgment.threshold or 0.0)


def _holds(answer: JudgeAnswer, threshold: float) -> bool:
    """The judge said yes, at least as surely as ``threshold`` asks."""
    return answer.verdict == "pass" and (answer.score or 0.0) >= threshold


def _result(
    name: str,
    evaluation: TurnEvaluation | FinalEvaluation,
    scope: typing.Literal["turn", "final"],
    turn: int | None,
    finding: Finding,
) -> EvaluationResult:
    verdict, score, detail = finding
    return EvaluationResult(name, evaluation.type, scope, turn, verdict, score, detail)


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


def _blame(
    no_fault: bool,
    end_reason: str,
    turns: int,
    min_turns: int,
    judges: Blame | None,
    inconclusive_only: bool,
) -> Blame:
    """Whose failure it is: none for a success or a conversation with no verdict; the
    simulated person's when it left before ``min_turns``; the judge's word on a failed LLM
    evaluation; no one's when the network cut it off, or when nothing failed outright
    (only inconclusive verdicts); the agent's otherwise."""
    if no_fault:
        return "none"
    if end_reason == "persona_ended" and turns < min_turns:
        return "simulator"
    if end_reason in ENDED_WELL:
        if judges is not None:
            return judges
        return "none" if inconclusive_only else "agent"
    return "agent" if end_reason in AGENTS_FAULT else "none"
