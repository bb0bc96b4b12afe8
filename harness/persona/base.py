"""The persona seam: what the conversation engine asks of any persona engine.

Scripted personas answer offline and deterministically, LLM personas ask Claude, replayed
personas serve recorded conversations; all three implement the same protocol. A persona
may set its own timing (a recording's) and may end the conversation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from harness.metrics.persona_usage import PersonaUsage
from harness.scenario.models import Persona


@dataclass(frozen=True)
class BurstRequest:
    """What the engine needs next: one list of messages per thought of the burst.

    ``thoughts`` holds each client step's exact count, or None where the persona decides.
    ``history`` is the conversation so far as (role, text) pairs, oldest first: the
    engine's own list, unchanged while ``next_burst`` runs and added to after it (a persona
    that keeps it past the call copies it). A copy per turn costs a tuple as long as the
    conversation, and CPython keeps up to 2,000 freed tuples of each length up to 20 for
    reuse: in the soak, those of 6 and 20 items filled for twenty minutes, 300 KB from
    minute 10 to 22 (1.5 MB an hour), while its resident memory grew 680 KB.
    """

    turn: int
    thoughts: tuple[int | None, ...]
    is_last_turn: bool
    history: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Burst:
    """A persona's next move: messages to send, with what it cost to make them.

    ``think_time`` (before the first message) and ``pauses`` (before each later one) are
    scenario seconds; None leaves them to the scenario's timing. ``end_conversation``: the
    persona is done; its messages, if any, are sent and answered first. A burst without
    messages must end the conversation.
    """

    messages: tuple[str, ...]
    end_conversation: bool = False
    think_time: float | None = None
    pauses: tuple[float, ...] | None = None
    usage: PersonaUsage | None = None

    def __post_init__(self) -> None:
        if not self.messages and not self.end_conversation:
            raise ValueError("a burst without messages must end the conversation")
        if self.pauses is not None and len(self.pauses) != max(len(self.messages) - 1, 0):
            raise ValueError("a burst needs one pause before each message after the first")


class PersonaEngine(Protocol):
    async def next_burst(self, request: BurstRequest) -> Burst:
        """The persona's next burst, in sending order."""
        ...


def decide_burst_size(persona: Persona, rng: random.Random) -> int:
    """How many messages a persona sends when the pattern leaves it open.

    With probability ``multi_message_probability`` it sends several (2..max, uniformly),
    otherwise one.
    """
    limit = persona.max_messages_per_turn
    if limit > 1 and rng.random() < persona.multi_message_probability:
        return rng.randint(2, limit)
    return 1
