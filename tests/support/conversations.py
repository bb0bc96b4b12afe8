"""Conversations held in process against the reference agent (mock transport), with
whatever personas the test's services provide."""

from __future__ import annotations

import asyncio

from harness.clock import Clock
from harness.conversation import Conversation, ConversationResult, run_conversation
from harness.persona.base import PersonaEngine
from harness.persona.services import PersonaServices
from harness.scenario.models import Scenario
from harness.transport.mock import MockTransport
from tests.support.observers import Collected

SCALE = 0.05


async def converse(
    services: PersonaServices, played: Scenario, count: int = 1, prefix: str = "c"
) -> Collected:
    clock = Clock(SCALE)
    transport = MockTransport(clock, "0")
    collected = Collected()
    await asyncio.wait_for(
        asyncio.gather(
            *(
                run_conversation(transport, played, f"{prefix}{i}", clock, collected, "0", services)
                for i in range(count)
            )
        ),
        60,
    )
    await transport.close()
    return collected


async def converse_as(
    persona: PersonaEngine, played: Scenario, conversation_id: str
) -> tuple[ConversationResult, Collected]:
    """One conversation with ``persona`` playing the person."""
    clock = Clock(SCALE)
    transport = MockTransport(clock)
    session = await transport.open(conversation_id, played)
    collected = Collected()
    conversation = Conversation(conversation_id, played, session, clock, collected, persona=persona)
    result = await within(conversation.run(), 30, "the conversation")
    await transport.close()
    return result, collected


async def within(work, timeout_s: float, what: str):
    """Await ``work``, but not past ``timeout_s``: a hang fails the test at once, with
    where every task of the loop was waiting (a loop with no timer left sleeps through
    pytest-timeout's alarm)."""
    try:
        return await asyncio.wait_for(work, timeout_s)
    except TimeoutError:
        where = sorted(
            " > ".join(f"{frame.f_code.co_name}:{frame.f_lineno}" for frame in task.get_stack())
            for task in asyncio.all_tasks()
            if task is not asyncio.current_task()
        )
        raise AssertionError(
            f"{what} did not end within {timeout_s:g} s; tasks waiting at:\n" + "\n".join(where)
        ) from None
