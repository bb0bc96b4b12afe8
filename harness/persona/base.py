"""The persona seam: what the conversation engine asks of any persona engine.

Scripted personas (this package) answer offline and deterministically; LLM-driven and
replayed personas implement the same protocol.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from harness.scenario.models import Persona


@dataclass(frozen=True)
class BurstRequest:
    """What the engine needs next: one list of messages per thought of the burst.

    ``thoughts`` holds each client step's exact count, or None where the persona decides.
    ``history`` is the conversation so far as (role, text) pairs, oldest first.
    """

    turn: int
    thoughts: tuple[int | None, ...]
    is_last_turn: bool
    history: Sequence[tuple[str, str]]


class PersonaEngine(Protocol):
    async def next_burst(self, request: BurstRequest) -> list[str]:
        """The burst's messages in sending order (at least one)."""
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
