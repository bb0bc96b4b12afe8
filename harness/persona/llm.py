"""The LLM persona: Claude plays the person, one burst per turn, through the shared gateway.

Conversation k of a scenario in a process plays variant k mod ``llm.variants``: the
variant seeds the persona's facts (its script slots) and burst sizes, and is part of the
cache key, so a repeated run asks the same questions and is answered from the cache.

Each turn asks for low..high messages (the pattern's exact counts, or 1..n where the
persona decides, n drawn from ``multi_message_probability``). An answer with more is
capped (the surplus joins the last message); one that is not a valid burst goes out as a
single message, split at sentence ends when long, or as the scripted turn when it is
broken JSON; a turn without an answer (request failed, budget spent) is played scripted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from harness.llm.request import LlmRequest
from harness.metrics.persona_usage import PersonaUsage
from harness.persona.base import Burst, BurstRequest, decide_burst_size
from harness.persona.prompt import (
    BURST_SCHEMA,
    conversation_messages,
    system_blocks,
    turn_instruction,
)
from harness.persona.scripted import ScriptedPersona
from harness.persona.splitter import split_response_naturally
from harness.scenario.models import Scenario

if TYPE_CHECKING:  # the SDK behind it is imported only by runs with LLM personas
    from harness.llm.gateway import LlmGateway

LONG_MESSAGE_CHARS = 200


@dataclass(frozen=True)
class ParsedBurst:
    messages: tuple[str, ...]
    end_conversation: bool
    outcome: str  # "ok", "capped", "bad" (not a burst: sent as plain text) or "broken"


class LlmPersona:
    def __init__(self, scenario: Scenario, gateway: LlmGateway, seed: str, variant: int) -> None:
        self.persona = scenario.persona
        self._gateway = gateway
        self._key_seed = f"{seed}:{variant}"
        rng = random.Random(f"{seed}:{scenario.name}:llm:{variant}")
        self._rng = rng
        self._scripted = ScriptedPersona(self.persona, rng)
        self.slots = self._scripted.slots
        """This conversation's facts, which the judges fill into ``{slot}`` placeholders."""
        self._system = system_blocks(self.persona, scenario.goals)
        self._settings = self.persona.llm_settings
        self._price = self._settings.price_table()

    async def next_burst(self, request: BurstRequest) -> Burst:
        low, high = self._bounds(request)
        settings = self._settings
        instruction = turn_instruction(low, high, request.is_last_turn, request.turn == 0)
        call = LlmRequest(
            model=settings.model,
            max_tokens=settings.max_tokens,
            effort=settings.effort,
            base_url=settings.base_url,
            system=self._system,
            messages=conversation_messages(request.history, self._scripted.slots, instruction),
            schema=BURST_SCHEMA,
            price=self._price,
            seed=self._key_seed,
        )
        answer = await self._gateway.ask(call)
        usage = answer.usage
        if answer.text is None:
            return self._scripted_turn(request, usage)
        parsed = parse_burst(answer.text, low, high)
        if parsed.outcome == "broken":
            usage.fallback_bad_output += 1
            return self._scripted_turn(request, usage)
        usage.fallback_bad_output += parsed.outcome == "bad"
        usage.capped += parsed.outcome == "capped"
        return Burst(parsed.messages, parsed.end_conversation, usage=usage)

    def _bounds(self, request: BurstRequest) -> tuple[int, int]:
        """Fewest and most messages this turn: exact counts are exact; where the persona
        decides, at least one and at most the size it drew."""
        low = high = 0
        for count in request.thoughts:
            if count is None:
                low += 1
                high += decide_burst_size(self.persona, self._rng)
            else:
                low += count
                high += count
        return low, high

    def _scripted_turn(self, request: BurstRequest, usage: PersonaUsage) -> Burst:
        return Burst(tuple(self._scripted.messages(request)), usage=usage)


def parse_burst(text: str, low: int, high: int) -> ParsedBurst:
    """The model's answer as a burst within [low, high] messages, or how it fell short."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = None
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
        return _as_plain_text(text, high)
    end = data.get("end_conversation") is True
    cleaned = [message.strip() for message in messages if message.strip()]
    if not cleaned and end:
        return ParsedBurst((), True, "ok")
    if len(cleaned) < low:
        return _as_plain_text(" ".join(cleaned), high)
    if len(cleaned) > high:
        kept = [*cleaned[: high - 1], " ".join(cleaned[high - 1 :])]
        return ParsedBurst(tuple(kept), end, "capped")
    return ParsedBurst(tuple(cleaned), end, "ok")


def _as_plain_text(text: str, high: int) -> ParsedBurst:
    """Not a valid burst: the text as one message (split when long). Broken JSON or
    nothing at all is no message a person would send: the caller plays the turn scripted."""
    text = text.strip()
    if not text or text[0] in "{[":
        return ParsedBurst((), False, "broken")
    if len(text) > LONG_MESSAGE_CHARS:
        return ParsedBurst(tuple(split_response_naturally(text, high)), False, "bad")
    return ParsedBurst((text,), False, "bad")
