"""The replay persona: recorded conversations served again, with no LLM call at all.

Conversation k of a scenario in a process replays recording k mod (number of recordings).
Turn i sends the recording's i-th run of client messages as recorded, whatever counts the
pattern names; after the last one the persona ends the conversation. With
``replay.timing: recorded`` the recorded gaps become the think time and the pauses (where
the recording has times); otherwise the scenario's timing applies.
"""

from __future__ import annotations

from harness.metrics.persona_usage import PersonaUsage
from harness.persona.base import Burst, BurstRequest
from harness.persona.recordings import Recording
from harness.scenario.models import Persona


class ReplayPersona:
    def __init__(self, persona: Persona, recording: Recording) -> None:
        self._bursts = recording.client_bursts()
        self._keep_time = persona.replay is not None and persona.replay.timing == "recorded"

    async def next_burst(self, request: BurstRequest) -> Burst:
        if request.turn >= len(self._bursts):
            return Burst((), end_conversation=True)
        burst = self._bursts[request.turn]
        messages = tuple(message.text for message, _ in burst)
        gaps = [gap for _, gap in burst]
        pauses = tuple(gaps[1:]) if self._keep_time and None not in gaps[1:] else None
        think = gaps[0] if self._keep_time else None
        return Burst(
            messages,
            end_conversation=request.turn == len(self._bursts) - 1,
            think_time=think,
            pauses=pauses,
            usage=PersonaUsage(replayed_bursts=1),
        )
