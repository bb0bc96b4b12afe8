"""Scenario models: what a simulated conversation is, validated before anything runs.

Every duration is in scenario seconds (see ``harness.clock``). Unknown keys are errors,
so a typo in a YAML file is reported instead of silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from harness.prices import PRICES, Price
from harness.scenario.judging import (
    FinalEvaluation,
    Goals,
    Judgment,
    LlmJudgeEvaluation,
    Outcome,
    TerminationCondition,
    TurnEvaluation,
    unique_labels,
)
from harness.scenario.pattern import Step, format_pattern, parse_pattern
from harness.scenario.presets import (
    DEFAULT_INTER_MESSAGE_DELAYS,
    DEFAULT_THINK_TIME,
    NORMAL,
    fill_persona_defaults,
    fill_timing_defaults,
)

BURST_LIMIT_DEFAULT = 5
PersonalityPreset = Literal[
    "normal", "difficult", "confused", "angry", "elderly", "tech_savvy", "impatient", "suspicious"
]
Effort = Literal["low", "medium", "high", "xhigh", "max"]


def _as_range(value: object) -> object:
    """Accept ``[lo, hi]`` or a bare number (``2`` means exactly two seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (value, value)
    return value


def _check_range(value: tuple[float, float]) -> tuple[float, float]:
    lo, hi = value
    if lo < 0 or hi < lo:
        raise ValueError(f"range [{lo}, {hi}] must satisfy 0 <= lo <= hi")
    return value


Seconds = Annotated[float, Field(ge=0)]
PositiveSeconds = Annotated[float, Field(gt=0)]
SecondsRange = Annotated[
    tuple[float, float], BeforeValidator(_as_range), AfterValidator(_check_range)
]


def _coerce_pattern(value: object) -> tuple[Step, ...]:
    if isinstance(value, tuple) and all(isinstance(step, Step) for step in value):
        return value
    return parse_pattern(value)  # type: ignore[arg-type]


PatternField = Annotated[
    tuple[Step, ...],
    BeforeValidator(_coerce_pattern),
    PlainSerializer(format_pattern, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "examples": ["C3 A1 C2 A1", "C A"]},
                {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "prefixItems": [{"enum": ["C", "A"]}, {"type": ["integer", "null"]}],
                    },
                },
            ],
            "description": "C<n>: the client sends n messages; A<m>: wait for a reply of m "
            "messages (a hint). No count: decided at run time. Cycles until the end.",
        }
    ),
]


class StrictModel(BaseModel):
    # NaN and infinities are never a pause, a rate or a window: refused at their line.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Traits(StrictModel):
    """How the simulated person behaves, each from 0 (not at all) to 1 (very). The
    personality preset supplies every trait the scenario leaves out."""

    patience: float = Field(NORMAL.patience, ge=0, le=1)
    tech_comfort: float = Field(NORMAL.tech_comfort, ge=0, le=1)
    tendency_to_interrupt: float = Field(NORMAL.tendency_to_interrupt, ge=0, le=1)
    provides_clear_info: float = Field(NORMAL.provides_clear_info, ge=0, le=1)
    typing_chars_per_min: float = Field(NORMAL.typing_chars_per_min, gt=0)


class Script(StrictModel):
    """Utterance banks of the scripted engine; ``{slot}`` placeholders draw from ``slots``."""

    openers: list[str] = Field(default_factory=lambda: ["Hi!"])
    messages: list[str] = Field(default_factory=lambda: ["I have a question."])
    follow_ups: list[str] = Field(default_factory=list)
    closings: list[str] = Field(default_factory=lambda: ["Thanks, bye!"])
    slots: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _slots_are_filled(self) -> Script:
        import string

        for bank in (self.openers, self.messages, self.follow_ups, self.closings):
            for text in bank:
                for _, name, _, _ in string.Formatter().parse(text):
                    if name and name not in self.slots:
                        raise ValueError(f"slot {{{name}}} in {text!r} has no values in slots")
        for name, values in self.slots.items():
            if not values:
                raise ValueError(f"slot {name!r} has no values")
        return self


class LlmPrice(StrictModel):
    """USD per million tokens, for a model the built-in price table does not know."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float = Field(ge=0)
    cache_read: float = Field(ge=0)


class LlmSettings(StrictModel):
    """How an ``engine: llm`` persona asks Claude for its messages."""

    model: str = Field("claude-haiku-4-5", min_length=1)
    max_tokens: int = Field(512, ge=16, le=64_000)
    effort: Effort | None = None
    base_url: str | None = Field(None, pattern=r"^https?://")
    variants: int = Field(20, ge=1)
    """Distinct conversations per scenario: conversation k plays variant k mod variants, so
    a long run reuses cached answers instead of paying for ever new ones."""
    price: LlmPrice | None = None

    @model_validator(mode="after")
    def _price_known(self) -> LlmSettings:
        if self.price is None and self.model not in PRICES:
            raise ValueError(
                f"no price known for model {self.model!r}: add price: {{input, output, "
                "cache_write, cache_read}} in USD per million tokens"
            )
        return self

    def price_table(self) -> Price:
        if self.price is None:
            return PRICES[self.model]
        return Price(**self.price.model_dump())


class ReplaySettings(StrictModel):
    """Where an ``engine: replay`` persona finds its conversations, and whose timing it keeps."""

    file: Path
    """JSONL from `harness generate` or `harness import`, relative to the scenario file."""
    timing: Literal["recorded", "scenario"] = "recorded"

    @field_validator("file")
    @classmethod
    def _file_exists(cls, value: Path, info: ValidationInfo) -> Path:
        base = (info.context or {}).get("base_dir")
        path = value if value.is_absolute() or base is None else Path(base) / value
        if not path.is_file():
            raise ValueError(
                f"no such file {str(path)!r}: record conversations into it with "
                "`harness generate` or `harness import`"
            )
        return path


class Persona(StrictModel):
    """A simulated person: who they are, what they want, how they write."""

    name: str = "user"
    style: str = "casual"
    objective: str = "get an answer to a question"
    language: str = "en"
    knowledge_level: str = "average"
    emotional_state: str = "calm"
    constraints: list[str] = Field(default_factory=list)
    personality: PersonalityPreset = "normal"
    traits: Traits = Field(default_factory=Traits)
    multi_message_probability: float = Field(NORMAL.tendency_to_interrupt, ge=0, le=1)
    max_messages_per_turn: int = Field(3, ge=1)
    engine: Literal["scripted", "llm", "replay"] = "scripted"
    script: Script = Field(default_factory=Script)
    llm: LlmSettings | None = None
    """Settings of engine: llm (defaults when left out)."""
    replay: ReplaySettings | None = None

    @property
    def llm_settings(self) -> LlmSettings:
        return self.llm or LlmSettings()

    @model_validator(mode="before")
    @classmethod
    def _preset_defaults(cls, data: Any) -> Any:
        return fill_persona_defaults(data)

    @model_validator(mode="after")
    def _settings_match_the_engine(self) -> Persona:
        if self.engine == "replay" and self.replay is None:
            raise ValueError("engine: replay needs replay: {file: conversations.jsonl}")
        for name in ("llm", "replay"):
            if getattr(self, name) is not None and self.engine != name:
                raise ValueError(
                    f"{name}: settings apply only with engine: {name} (this persona's engine "
                    f"is {self.engine}); remove them or change the engine"
                )
        return self


class Timing(StrictModel):
    """Human pauses. ``inter_message_delays[i]`` is the pause before message i+2 of a burst,
    cycling when the burst is longer than the list; ``think_time`` precedes each new burst."""

    inter_message_delays: list[SecondsRange] = Field(
        default_factory=lambda: list(DEFAULT_INTER_MESSAGE_DELAYS), min_length=1
    )
    think_time: SecondsRange = DEFAULT_THINK_TIME
    typing: bool = False
    """Add each message's typing time (its length at the persona's typing speed) to the
    pause before it."""


class Collect(StrictModel):
    """How a reply is collected: wait for a first message, then until silence. A send
    the transport has not acknowledged within ``send_timeout`` ends the conversation
    (``send_timeout``): a silent network is a failure, not a pause."""

    first_reply_timeout: PositiveSeconds = 30.0
    quiet_window: PositiveSeconds = 3.0
    max_collect: PositiveSeconds = 60.0
    send_timeout: PositiveSeconds = 30.0

    @model_validator(mode="after")
    def _window_fits(self) -> Collect:
        if self.max_collect < self.quiet_window:
            raise ValueError("max_collect must be at least quiet_window")
        return self


class AgentSettings(StrictModel):
    """The built-in reference agent, used when the transport is ``mock``."""

    debounce_s: Seconds = 2.0
    max_batch_wait_s: Seconds = 20.0
    think_time_s: SecondsRange = (0.5, 1.5)
    reply_parts: Annotated[tuple[int, int], BeforeValidator(_as_range)] = (1, 3)
    part_gap_s: SecondsRange = (0.2, 1.0)
    capacity: int | None = Field(None, ge=1)
    replies: list[str] | None = Field(None, min_length=1)
    """Texts of its answers, used in order and cycled (``{batch}``: the batch's number,
    ``{messages}``: what it answers); default: it quotes what it answers."""
    escalate_after: int | None = Field(None, ge=1)
    """After this many answered batches, it hands the person over to a human, saying
    ``escalation``."""
    escalation: str = Field("Let me transfer you to a human specialist.", min_length=1)

    @field_validator("reply_parts")
    @classmethod
    def _parts_range(cls, value: tuple[int, int]) -> tuple[int, int]:
        lo, hi = value
        if lo < 1 or hi < lo:
            raise ValueError(f"reply_parts [{lo}, {hi}] must satisfy 1 <= lo <= hi")
        return value

    @field_validator("replies")
    @classmethod
    def _known_placeholders(cls, value: list[str] | None) -> list[str] | None:
        import string

        for text in value or ():
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            except ValueError as exc:
                raise ValueError(f"reply {text!r}: {exc}") from None
            unknown = sorted(names - {"batch", "messages"})
            if unknown:
                raise ValueError(
                    f"reply {text!r} uses {{{unknown[0]}}}: only {{batch}} and {{messages}} "
                    "are filled in (double a brace to write one: {{)"
                )
        return value

    @model_validator(mode="after")
    def _batch_wait_covers_debounce(self) -> AgentSettings:
        if self.max_batch_wait_s < self.debounce_s:
            raise ValueError("max_batch_wait_s must be at least debounce_s")
        return self


class Expectations(StrictModel):
    """Service-level objectives a headless run checks at the end (all optional).

    Latency limits are real milliseconds; rates are fractions of bursts (0.05 = 5 %);
    ``reply_groups_per_burst_max`` bounds the mean (1.0 = every burst answered as one).
    ``_min`` objectives are floors over judged conversations.
    """

    first_reply_p50_ms: float | None = Field(None, gt=0)
    first_reply_p95_ms: float | None = Field(None, gt=0)
    first_reply_p99_ms: float | None = Field(None, gt=0)
    complete_reply_p50_ms: float | None = Field(None, gt=0)
    complete_reply_p95_ms: float | None = Field(None, gt=0)
    complete_reply_p99_ms: float | None = Field(None, gt=0)
    premature_reply_rate_max: float | None = Field(None, ge=0, le=1)
    timeout_rate_max: float | None = Field(None, ge=0, le=1)
    reply_groups_per_burst_max: float | None = Field(None, ge=0)
    success_rate_min: float | None = Field(None, ge=0, le=1)
    """Judged conversations: the share that succeeded must reach this."""
    goals_achieved_rate_min: float | None = Field(None, ge=0, le=1)
    evaluation_pass_rate_min: float | None = Field(None, ge=0, le=1)


class Scenario(StrictModel):
    """One kind of conversation, run many times under load."""

    name: str = Field(min_length=1)
    description: str = ""
    weight: int = Field(1, ge=0)
    persona: Persona = Field(default_factory=Persona)
    pattern: PatternField = Field(default_factory=lambda: parse_pattern(None))
    timing: Timing = Field(default_factory=Timing)
    collect: Collect = Field(default_factory=Collect)
    max_turns: int = Field(5, ge=1)
    total_timeout: PositiveSeconds = 600.0
    burst_limit: int = Field(BURST_LIMIT_DEFAULT, ge=1)
    expect: Expectations = Field(default_factory=Expectations)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    goals: Goals | None = None
    outcomes: Annotated[list[Outcome], AfterValidator(unique_labels)] = Field(default_factory=list)
    """The first whose rule holds is the conversation's; none: ``unresolved``."""
    termination_conditions: list[TerminationCondition] = Field(default_factory=list)
    """Checked after every reply from ``min_turns`` on; the first that holds ends it."""
    min_turns: int = Field(1, ge=1)
    turn_evaluations: list[TurnEvaluation] = Field(default_factory=list)
    final_evaluations: list[FinalEvaluation] = Field(default_factory=list)
    judgment: Judgment = Field(default_factory=Judgment)
    judge: LlmSettings | None = None
    """The LLM judge's model and endpoint (default: ``LlmSettings``'s)."""

    @model_validator(mode="before")
    @classmethod
    def _timing_from_persona(cls, data: Any) -> Any:
        """Think time and pauses the scenario leaves out follow the persona's traits."""
        if not isinstance(data, dict):
            return data
        persona = data.get("persona", {})
        if isinstance(persona, Persona):
            traits: Any = persona.traits.model_dump()
        elif isinstance(persona, dict):
            traits = fill_persona_defaults(persona).get("traits")
        else:
            return data
        return {**data, "timing": fill_timing_defaults(data.get("timing"), traits)}

    @model_validator(mode="after")
    def _bursts_within_limit(self) -> Scenario:
        if self.persona.max_messages_per_turn > self.burst_limit:
            raise ValueError(
                f"persona.max_messages_per_turn is {self.persona.max_messages_per_turn}, above "
                f"burst_limit {self.burst_limit}; raise burst_limit if you mean it"
            )
        for step in self.pattern:
            if step.speaker == "C" and step.count is not None and step.count > self.burst_limit:
                raise ValueError(
                    f"pattern step {step} sends more than burst_limit {self.burst_limit} "
                    "messages; raise burst_limit if you mean it"
                )
        return self

    @model_validator(mode="after")
    def _judging_fits(self) -> Scenario:
        if self.min_turns > self.max_turns:
            raise ValueError(
                f"min_turns ({self.min_turns}) is above max_turns ({self.max_turns}): no "
                "termination condition could ever end a conversation"
            )
        floors = [
            key
            for key in ("success_rate_min", "goals_achieved_rate_min", "evaluation_pass_rate_min")
            if getattr(self.expect, key) is not None
        ]
        if floors and not self.judged:
            raise ValueError(
                f"expect: {floors[0]} needs something to judge by: add outcomes, "
                "termination_conditions or evaluations (see README, Judging)"
            )
        return self

    @property
    def pattern_text(self) -> str:
        return format_pattern(self.pattern)

    @property
    def judged(self) -> bool:
        """Its conversations get a verdict: it declares something to judge them by."""
        return bool(
            self.goals
            or self.outcomes
            or self.termination_conditions
            or self.turn_evaluations
            or self.final_evaluations
        )

    @property
    def needs_llm_judge(self) -> bool:
        """Something in it only the LLM judge can decide: an ``llm_judge`` evaluation or
        outcome, a ``custom_condition``, ``goals.success_criteria``, or ``goal_achieved``
        without a keyword or regex outcome to go by."""
        evaluations = [*self.turn_evaluations, *self.final_evaluations]
        offline_outcomes = any(outcome.llm_judge is None for outcome in self.outcomes)
        return (
            any(isinstance(e, LlmJudgeEvaluation) for e in evaluations)
            or any(outcome.llm_judge is not None for outcome in self.outcomes)
            or any(c.type == "custom_condition" for c in self.termination_conditions)
            or any(
                c.type == "goal_achieved" and not offline_outcomes
                for c in self.termination_conditions
            )
            or bool(self.goals and self.goals.success_criteria)
        )

    @property
    def judge_settings(self) -> LlmSettings:
        return self.judge or LlmSettings()
