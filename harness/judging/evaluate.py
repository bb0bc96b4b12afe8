"""The offline evaluators: each gives a verdict, a score (0..1, or None when there is
nothing to score) and a one-line detail. ``llm_judge`` evaluations are the judge's."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import pairwise

from harness.judging.keywords import keywords
from harness.judging.text import mentions, mentions_any
from harness.judging.transcript import Transcript, TurnText
from harness.scenario.judging import (
    ContextRetention,
    ConversationFlow,
    ConversationLength,
    ExecutionTime,
    FinalEvaluation,
    RegexMatch,
    StringContains,
    TurnEvaluation,
    UserSatisfaction,
)
from harness.verdicts import Verdict

Finding = tuple[Verdict, float | None, str]


def evaluate_turn(evaluation: TurnEvaluation, turn: TurnText) -> Finding:
    if not turn.agent and isinstance(evaluation, StringContains | RegexMatch):
        return "fail", 0.0, "no agent reply in this turn"
    return _in_texts(evaluation, turn.agent)


def evaluate_final(
    evaluation: FinalEvaluation,
    transcript: Transcript,
    turns_played: int,
    language: str,
    slots: Mapping[str, str],
) -> Finding:
    match evaluation:
        case StringContains() | RegexMatch():
            return _in_texts(evaluation, transcript.texts("agent"))
        case ConversationLength():
            return _length(evaluation, turns_played)
        case ConversationFlow():
            return _flow(evaluation, transcript, language)
        case UserSatisfaction():
            return _satisfaction(evaluation, transcript.texts("client"), language)
        case ContextRetention():
            return _retention(evaluation, transcript, slots)
        case ExecutionTime():
            return _execution_time(evaluation, transcript.turns())
    raise TypeError(f"{evaluation.type} is the LLM judge's, not an offline evaluation")


def _in_texts(evaluation: TurnEvaluation | FinalEvaluation, texts: Sequence[str]) -> Finding:
    match evaluation:
        case StringContains(value=value, case_sensitive=exact):
            found = any(value in t if exact else value.casefold() in t.casefold() for t in texts)
            return _yes_no(found, f"{'found' if found else 'no'} {value!r} in the agent's reply")
        case RegexMatch(pattern=pattern):
            found = any(re.search(pattern, text) for text in texts)
            return _yes_no(found, f"{'a' if found else 'no'} match of /{pattern}/")
    raise TypeError(f"{evaluation.type} is the LLM judge's, not an offline evaluation")


def _yes_no(passed: bool, detail: str) -> Finding:
    return ("pass", 1.0, detail) if passed else ("fail", 0.0, detail)


def _length(evaluation: ConversationLength, turns: int) -> Finding:
    top = evaluation.max_turns
    within = evaluation.min_turns <= turns and (top is None or turns <= top)
    optimal = evaluation.optimal_turns
    if optimal is None:
        score = 1.0 if within else 0.0
    else:
        score = round(max(0.0, 1 - abs(turns - optimal) / optimal), 4)
    bounds = f"{evaluation.min_turns}..{top if top is not None else '∞'}"
    return ("pass" if within else "fail"), score, f"{turns} turns (wanted {bounds})"


def _flow(evaluation: ConversationFlow, transcript: Transcript, language: str) -> Finding:
    missing = [
        pattern
        for pattern in evaluation.required_patterns
        if not _FLOWS[pattern](transcript, language)
    ]
    held = len(evaluation.required_patterns) - len(missing)
    score = round(held / len(evaluation.required_patterns), 4)
    if missing:
        return "fail", score, f"missing: {', '.join(missing)}"
    return "pass", score, "every required pattern present"


def _question_then_answer(transcript: Transcript, _language: str) -> bool:
    """Every turn in which the person asked something got an answer."""
    asked = [turn for turn in transcript.turns() if any("?" in text for text in turn.client)]
    return all(turn.agent for turn in asked)


def _empathy_then_solution(transcript: Transcript, language: str) -> bool:
    """The agent acknowledged the person before (or as) it gave the solution."""
    empathy, solution = keywords("empathy", language), keywords("solution", language)
    agent = transcript.texts("agent")
    first_solution = next(
        (i for i, text in enumerate(agent) if mentions_any([text], solution)), None
    )
    if first_solution is None:
        return False
    return mentions_any(agent[: first_solution + 1], empathy)


def _clarification_cycle(transcript: Transcript, _language: str) -> bool:
    """The agent asked the person something, and the person answered it in the next turn."""
    turns = transcript.turns()
    return any(
        any("?" in text for text in turn.agent) and following.client
        for turn, following in pairwise(turns)
    )


def _greeting_first(transcript: Transcript, language: str) -> bool:
    agent = transcript.texts("agent")
    return bool(agent) and mentions_any(agent[:1], keywords("greeting", language))


def _closing_last(transcript: Transcript, language: str) -> bool:
    agent = transcript.texts("agent")
    return bool(agent) and mentions_any(agent[-1:], keywords("closing", language))


_FLOWS = {
    "question_then_answer": _question_then_answer,
    "empathy_then_solution": _empathy_then_solution,
    "clarification_cycle": _clarification_cycle,
    "greeting_first": _greeting_first,
    "closing_last": _closing_last,
}


def _satisfaction(evaluation: UserSatisfaction, client: Sequence[str], language: str) -> Finding:
    """The share of the person's telling messages that are positive."""
    positive = sum(mentions_any([t], keywords("positive", language)) for t in client)
    negative = sum(mentions_any([t], keywords("negative", language)) for t in client)
    if not positive + negative:
        return "inconclusive", None, "the person said nothing telling"
    score = round(positive / (positive + negative), 4)
    detail = f"{positive} positive, {negative} negative message(s)"
    return ("pass" if score >= evaluation.satisfaction_threshold else "fail"), score, detail


def _retention(
    evaluation: ContextRetention, transcript: Transcript, slots: Mapping[str, str]
) -> Finding:
    """Each fact the person gave comes back in an agent reply within ``retention_turns``
    turns after the one it was given in."""
    turns = transcript.turns()
    last = turns[-1].index if turns else -1
    remembered, forgotten, unjudged = [], [], []
    for raw in evaluation.test_memory_of:
        fact = raw.format_map(_Slots(slots))
        given = next((t.index for t in turns if any(mentions(c, fact) for c in t.client)), None)
        if given is None or given == last:
            unjudged.append(fact)
            continue
        window = range(given + 1, given + evaluation.retention_turns + 1)
        used = any(t.index in window and any(mentions(a, fact) for a in t.agent) for t in turns)
        (remembered if used else forgotten).append(fact)
    assessed = len(remembered) + len(forgotten)
    if not assessed:
        return "inconclusive", None, "no fact was given with a turn left to use it"
    score = round(len(remembered) / assessed, 4)
    if forgotten:
        return "fail", score, f"forgot {', '.join(map(repr, forgotten))}"
    return "pass", score, f"remembered {', '.join(map(repr, remembered))}"


class _Slots(dict):
    """Slot values; a placeholder without one stays as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _execution_time(evaluation: ExecutionTime, turns: Sequence[TurnText]) -> Finding:
    measured = [turn for turn in turns if turn.measured]
    if not measured:
        return "inconclusive", None, "no turn was measured"
    slow = [
        turn.index + 1  # turns as people count them, from 1
        for turn in measured
        if turn.timed_out or turn.first_reply_ms is None or turn.first_reply_ms > evaluation.max_ms
    ]
    score = round(1 - len(slow) / len(measured), 4)
    if slow:
        return "fail", score, f"turn(s) {', '.join(map(str, slow))} over {evaluation.max_ms:g} ms"
    return "pass", score, f"every first reply within {evaluation.max_ms:g} ms"
