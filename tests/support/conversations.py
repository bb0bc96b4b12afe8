"""Conversations held in process against the reference agent (mock transport), with
whatever personas the test's services provide."""

from __future__ import annotations

import asyncio

from harness.clock import Clock
from harness.conversation import run_conversation
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
