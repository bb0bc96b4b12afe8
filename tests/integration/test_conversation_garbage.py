"""A finished conversation is freed by reference counting alone. The runtime keeps the
garbage collector rare (a full collection under load stalls the loop for 50-150 ms), so
a conversation caught in a reference cycle stays in memory: a 30-minute soak grew 770 MB
an hour when each judged conversation and its judge held each other. Nor does a turn
copy the conversation so far for its persona: CPython keeps freed tuples of up to 20
items for reuse, and the soak's copies filled those lists 1.5 MB an hour."""

from __future__ import annotations

import gc

from harness.persona.base import Burst, BurstRequest
from tests.support.conversations import converse, converse_as
from tests.support.scenarios import make

CONVERSATIONS = 40


async def test_judged_conversations_leave_nothing_for_the_garbage_collector():
    judged = make(
        "Judged",
        turn_evaluations=[{"type": "string_contains", "value": "anything"}],
        final_evaluations=[{"type": "execution_time", "max_ms": 60_000}],
    )
    gc.collect()
    gc.disable()
    try:
        collected = await converse(None, judged, CONVERSATIONS)
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert len(collected.ends) == CONVERSATIONS
    assert all(end.judgment is not None for end in collected.ends)
    # A cycle per conversation is some forty objects each: 1,600 here.
    assert unreachable < CONVERSATIONS, f"{unreachable} objects were only freed by the collector"


class _Remembering:
    """A persona that notes, at each turn, which history it was given and what it held."""

    def __init__(self) -> None:
        self.given: list[tuple[object, list[tuple[str, str]]]] = []

    async def next_burst(self, request: BurstRequest) -> Burst:
        self.given.append((request.history, list(request.history)))
        return Burst((f"Message {request.turn}.",))


async def test_each_turn_reads_the_conversation_itself_not_a_copy_of_it():
    played = make(
        "Remembered",
        max_turns=3,
        agent={"debounce_s": 0.5, "reply_parts": 1},
        collect={"first_reply_timeout": 60},  # a stalled loop must not skip a reply
    )
    persona = _Remembering()
    result, collected = await converse_as(persona, played, "remembered")
    assert result.turns == 3
    first = persona.given[0][0]
    assert all(history is first for history, _ in persona.given)  # one list, never copied
    said = [(entry.role, entry.text) for entry in collected.messages if entry.action is None]
    for turn, (_, seen) in enumerate(persona.given):
        assert seen == said[: 2 * turn], f"turn {turn} read {seen}"
