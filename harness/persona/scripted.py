"""The scripted persona: offline, free and deterministic given its seed.

Each thought of a burst takes an utterance from the scenario's banks (an opener on the
first turn, a closing on the last, messages and follow-ups between), fills its
``{slots}`` with values chosen once per conversation, and splits it into as many
messages as the thought needs; short utterances are topped up with more from the banks.
"""

from __future__ import annotations

import random

from harness.persona.base import Burst, BurstRequest, decide_burst_size
from harness.persona.splitter import split_response_naturally
from harness.scenario.models import Persona


class ScriptedPersona:
    def __init__(self, persona: Persona, rng: random.Random) -> None:
        self.persona = persona
        self._rng = rng
        self.slots = {name: rng.choice(values) for name, values in persona.script.slots.items()}
        """This conversation's slot values: facts an LLM persona knows too."""

    async def next_burst(self, request: BurstRequest) -> Burst:
        return Burst(tuple(self.messages(request)))

    def messages(self, request: BurstRequest) -> list[str]:
        """The burst's messages; the LLM persona falls back on this for a turn."""
        messages: list[str] = []
        for index, count in enumerate(request.thoughts):
            size = count if count is not None else decide_burst_size(self.persona, self._rng)
            lead = self._lead_bank(request, first_thought=index == 0)
            messages.extend(self._thought(lead, size))
        return messages

    def _lead_bank(self, request: BurstRequest, first_thought: bool) -> list[str]:
        script = self.persona.script
        if request.is_last_turn and first_thought:
            return script.closings
        if request.turn == 0 and first_thought:
            return script.openers
        return script.messages

    def _thought(self, lead: list[str], size: int) -> list[str]:
        parts = split_response_naturally(self._utterance(lead), size)
        script = self.persona.script
        more = script.follow_ups or script.messages
        while len(parts) < size:
            parts.append(self._utterance(more))
        return parts

    def _utterance(self, bank: list[str]) -> str:
        return self._rng.choice(bank).format_map(self.slots)
