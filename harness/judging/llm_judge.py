"""The LLM judge: a question about a transcript, answered by Claude as a structured
verdict, through the personas' gateway (its cache, budget, retries, concurrency and cost
accounting).

The judge sees the transcript and the criteria, never the persona's instructions. A
question is asked again once (under another cache key) when its answer does not parse,
then counted as ``error``; one the budget does not allow is ``skipped`` (unjudged, not
failed). Answers are cached under the transcript, the question, the model and
``PROMPT_VERSION``: identical conversations are judged once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from harness.llm.request import LlmRequest
from harness.metrics.persona_usage import PersonaUsage
from harness.scenario.models import LlmSettings
from harness.verdicts import Blame, Verdict

if TYPE_CHECKING:
    from harness.llm.gateway import LlmGateway

PROMPT_VERSION = "judge-1"
ATTEMPTS = 2
VERDICT_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["pass", "fail", "inconclusive"]},
        "score": {"type": "number"},
        "reasoning": {"type": "string"},
        "capabilities": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "blame": {"type": "string", "enum": ["agent", "simulator", "none"]},
    },
    "required": ["verdict", "score", "reasoning", "capabilities", "blame"],
    "additionalProperties": False,
}
SYSTEM = f"""\
You evaluate one chat between a customer and a company's chat agent ({PROMPT_VERSION}). \
The customer is simulated; the agent is the system under test. Judge only from the \
transcript: what was said, in what order. Do not assume anything that is not written.

Answer with JSON only: {{"verdict": "pass" | "fail" | "inconclusive", "score": 0..1, \
"reasoning": "one or two sentences", "capabilities": {{"<name>": true | false}}, \
"blame": "agent" | "simulator" | "none"}}.
- verdict: "pass" when the answer to the question is the expected one, "fail" when it is \
not, "inconclusive" when the transcript does not tell.
- score: how fully the expected answer holds, from 0 to 1.
- capabilities: for each capability you are asked about, whether the agent showed it \
(an empty object when none is asked).
- blame: when the verdict is "fail", whose doing it is: "agent" when the agent fell short, \
"simulator" when the simulated customer left its role (acted as the agent, ended early \
without reason, wrote nonsense), "none" when the verdict is not "fail"."""


@dataclass(frozen=True)
class JudgeAnswer:
    verdict: Verdict
    score: float | None
    reasoning: str
    capabilities: dict[str, bool] = field(default_factory=dict)
    blame: Blame | None = None
    usage: PersonaUsage = field(default_factory=PersonaUsage)


class LlmJudge:
    def __init__(self, gateway: LlmGateway, settings: LlmSettings) -> None:
        self._gateway = gateway
        self._settings = settings
        self._price = settings.price_table()

    async def ask(
        self,
        transcript: Sequence[tuple[str, int, str]],
        question: str,
        expected: str = "yes",
        capabilities: Sequence[str] = (),
    ) -> JudgeAnswer:
        """The judge's verdict on ``question`` about ``transcript`` ((role, turn, text))."""
        usage = PersonaUsage()
        content = _content(transcript, question, expected, capabilities)
        for attempt in range(ATTEMPTS):
            answer = await self._gateway.ask(self._request(content, attempt))
            over_budget = answer.usage.fallback_budget > 0
            # What the judge spent counts; the personas' fallbacks are theirs alone.
            answer.usage.fallback_budget = answer.usage.fallback_failed = 0
            usage.merge(answer.usage)
            if answer.text is None:
                if over_budget:
                    return JudgeAnswer("skipped", None, "the LLM budget is spent", usage=usage)
                return JudgeAnswer("error", None, "the judge's request failed", usage=usage)
            parsed = _parse(answer.text, usage)
            if parsed is not None:
                return parsed
        return JudgeAnswer("error", None, "the judge's answer did not parse, twice", usage=usage)

    def _request(self, content: str, attempt: int) -> LlmRequest:
        settings = self._settings
        return LlmRequest(
            model=settings.model,
            max_tokens=settings.max_tokens,
            effort=settings.effort,
            base_url=settings.base_url,
            system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
            messages=[{"role": "user", "content": [{"type": "text", "text": content}]}],
            schema=VERDICT_SCHEMA,
            price=self._price,
            seed=f"{PROMPT_VERSION}:attempt{attempt}",
            fallback="that judgment is counted as an error (neither a pass nor a failure)",
        )


def _content(
    transcript: Sequence[tuple[str, int, str]],
    question: str,
    expected: str,
    capabilities: Sequence[str],
) -> str:
    lines = ["Transcript:"]
    for role, turn, text in transcript:
        who = "customer" if role == "client" else "agent"
        lines.append(f"[turn {turn + 1}] {who}: {text}")
    if len(lines) == 1:
        lines.append("(no messages)")
    lines += ["", f"Question: {question}", f"Expected answer: {expected}"]
    if capabilities:
        lines.append(f"Capabilities to assess: {', '.join(capabilities)}")
    return "\n".join(lines)


def _parse(text: str, usage: PersonaUsage) -> JudgeAnswer | None:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("verdict") not in ("pass", "fail", "inconclusive"):
        return None
    score = data.get("score")
    if not isinstance(score, int | float) or isinstance(score, bool) or not 0 <= score <= 1:
        return None
    capabilities = data.get("capabilities") or {}
    if not isinstance(capabilities, dict):
        return None
    blame = data.get("blame") if data.get("blame") in ("agent", "simulator", "none") else None
    reasoning = data.get("reasoning")
    return JudgeAnswer(
        verdict=data["verdict"],
        score=float(score),
        reasoning=reasoning if isinstance(reasoning, str) else "",
        capabilities={str(k): bool(v) for k, v in capabilities.items()},
        blame=blame,
        usage=usage,
    )
