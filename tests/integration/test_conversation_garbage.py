"""A finished conversation is freed by reference counting alone. The runtime keeps the
garbage collector rare (a full collection under load stalls the loop for 50-150 ms), so
a conversation caught in a reference cycle stays in memory: a 30-minute soak grew 770 MB
an hour when each judged conversation and its judge held each other."""

from __future__ import annotations

import gc

from tests.support.conversations import converse
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
