"""What a scenario says about judging its conversations: goals, outcomes, termination
conditions, evaluations and how they make a verdict. Every key is optional; a scenario
without them runs as it always did.

Types are discriminated by ``type``, so an unknown type, a threshold outside 0..1 or a
regex that does not compile is a ``file:line`` error before anything runs.
"""

from __future__ import annotations

import re
import string
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

Fraction = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _has_a_word(keyword: str) -> str:
    if not any(character.isalnum() for character in keyword):
        raise ValueError(f"keyword {keyword!r} has no word to look for")
    return keyword


Keyword = Annotated[str, AfterValidator(_has_a_word)]


def _plain_placeholders(text: str) -> str:
    """``{slot}`` placeholders only: a name, no index, attribute or format."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc} (double a brace to write one: {{{{)") from None
    for _, name, spec, conversion in fields:
        if name is not None and (not name.isidentifier() or spec or conversion):
            raise ValueError(f"{text!r}: write a slot as {{name}}, got {{{name}}}")
    return text


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"regex {pattern!r} does not compile: {exc}") from None
    return pattern


class Goals(_Strict):
    """What the simulated person wants. ``primary`` defaults to ``persona.objective``."""

    primary: str | None = None
    secondary: list[str] = Field(default_factory=list)
    success_criteria: list[str] = Field(default_factory=list)
    failure_conditions: list[str] = Field(default_factory=list)


class LlmJudgeSpec(_Strict):
    """A question for the LLM judge; a verdict scores at least ``threshold`` to hold."""

    prompt: str = Field(min_length=1)
    threshold: Fraction = 0.5


class Outcome(_Strict):
    """A label a conversation earns when the agent's messages show it: any of
    ``agent_keywords``, a match of ``agent_regex``, or the LLM judge's yes."""

    label: str = Field(min_length=1)
    agent_keywords: list[Keyword] | None = Field(None, min_length=1)
    agent_regex: str | None = None
    llm_judge: LlmJudgeSpec | None = None
    achieves_goal: bool = True
    """Whether this outcome is the person's goal reached (an escalation may not be): it
    counts for ``goal_achieved``, the goals achieved and, without evaluations, success."""

    @field_validator("agent_regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        return None if value is None else _compiles(value)

    @model_validator(mode="after")
    def _one_rule(self) -> Outcome:
        rules = [self.agent_keywords, self.agent_regex, self.llm_judge]
        if sum(rule is not None for rule in rules) != 1:
            raise ValueError(
                f"outcome {self.label!r} needs exactly one of agent_keywords, agent_regex, "
                "llm_judge"
            )
        return self


class _Keywords(_Strict):
    keywords: list[Keyword] | None = Field(None, min_length=1)
    """Default: the built-in list in the persona's language."""


class UserSatisfied(_Keywords):
    """The person says they are content (their messages of the turn)."""

    type: Literal["user_expresses_satisfaction"]


class AgentSolved(_Keywords):
    """The agent gives the solution (its messages of the turn)."""

    type: Literal["agent_provides_solution"]


class EscalationNeeded(_Keywords):
    """Either side asks for, or offers, a human."""

    type: Literal["escalation_needed"]


class ConversationStuck(_Strict):
    """``turns`` consecutive agent replies (or bursts of the person) alike, by word-Jaccard
    at least ``similarity``."""

    type: Literal["conversation_stuck"]
    similarity: Fraction = 0.8
    turns: int = Field(2, ge=2)


class AgentSilent(_Strict):
    """``turns`` replies in a row with no agent message."""

    type: Literal["agent_silent"]
    turns: int = Field(2, ge=1)


class GoalAchieved(_Strict):
    """An outcome other than ``unresolved`` (or, with no outcomes, the judge on the goals)."""

    type: Literal["goal_achieved"]


class CustomCondition(_Strict):
    type: Literal["custom_condition"]
    llm_judge: LlmJudgeSpec


TerminationCondition = Annotated[
    UserSatisfied
    | AgentSolved
    | EscalationNeeded
    | ConversationStuck
    | AgentSilent
    | GoalAchieved
    | CustomCondition,
    Field(discriminator="type"),
]


class StringContains(_Strict):
    type: Literal["string_contains"]
    value: str = Field(min_length=1)
    case_sensitive: bool = False


class RegexMatch(_Strict):
    type: Literal["regex_match"]
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _regex_compiles(cls, value: str) -> str:
        return _compiles(value)


class LlmJudgeEvaluation(_Strict):
    type: Literal["llm_judge"]
    prompt: str = Field(min_length=1)
    expected: str = "yes"
    capabilities: list[str] = Field(default_factory=list)


class ConversationLength(_Strict):
    type: Literal["conversation_length"]
    min_turns: int = Field(1, ge=0)
    max_turns: int | None = Field(None, ge=1)
    optimal_turns: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> ConversationLength:
        top = self.max_turns
        if top is not None and top < self.min_turns:
            raise ValueError("max_turns must be at least min_turns")
        optimal = self.optimal_turns
        if optimal is not None and not (self.min_turns <= optimal <= (top or optimal)):
            raise ValueError("optimal_turns must lie between min_turns and max_turns")
        return self


FlowPattern = Literal[
    "question_then_answer",
    "empathy_then_solution",
    "clarification_cycle",
    "greeting_first",
    "closing_last",
]


class ConversationFlow(_Strict):
    type: Literal["conversation_flow"]
    required_patterns: list[FlowPattern] = Field(min_length=1)


class UserSatisfaction(_Strict):
    type: Literal["user_satisfaction"]
    satisfaction_threshold: Fraction = 0.6
    measurement_method: Literal["keyword_analysis"] = "keyword_analysis"


class ContextRetention(_Strict):
    """The agent uses each fact (``{slot}`` placeholders allowed) within ``retention_turns``
    turns after the person gave it."""

    type: Literal["context_retention"]
    test_memory_of: list[Annotated[str, AfterValidator(_plain_placeholders)]] = Field(min_length=1)
    retention_turns: int = Field(3, ge=1)


class ExecutionTime(_Strict):
    """Every turn's first reply within ``max_ms`` (real milliseconds)."""

    type: Literal["execution_time"]
    max_ms: float = Field(gt=0)


TurnEvaluation = Annotated[
    StringContains | RegexMatch | LlmJudgeEvaluation, Field(discriminator="type")
]
FinalEvaluation = Annotated[
    StringContains
    | RegexMatch
    | LlmJudgeEvaluation
    | ConversationLength
    | ConversationFlow
    | UserSatisfaction
    | ContextRetention
    | ExecutionTime,
    Field(discriminator="type"),
]


class Judgment(_Strict):
    """How evaluations make the conversation's success: every one passes (``all_pass``),
    one does (``any_pass``), or at least ``threshold`` of them (``threshold``)."""

    strategy: Literal["all_pass", "any_pass", "threshold"] = "all_pass"
    threshold: Fraction | None = None

    @model_validator(mode="after")
    def _threshold_with_its_strategy(self) -> Judgment:
        if (self.strategy == "threshold") != (self.threshold is not None):
            raise ValueError("threshold: goes with strategy: threshold, and only with it")
        return self


def unique_labels(outcomes: list[Outcome]) -> list[Outcome]:
    seen: set[str] = set()
    for outcome in outcomes:
        if outcome.label in seen:
            raise ValueError(f"outcome label {outcome.label!r} is used twice")
        if outcome.label == "unresolved":
            raise ValueError("'unresolved' is the label of no outcome: choose another")
        seen.add(outcome.label)
    return outcomes
