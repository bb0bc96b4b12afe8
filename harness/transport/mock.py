"""The mock transport: the reference agent in the same event loop, no network.

Zero setup and exact ground truth: each scenario gets its own reference agent (built
from the scenario's ``agent:`` settings); every batch it finishes goes to ``on_batch``
with the scenario's name, for the tests and ``reference_agent.jsonl``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from harness.agent.reference import BatchRecord, ReferenceAgent
from harness.clock import Clock
from harness.scenario.models import Scenario
from harness.transport.base import Inbox, SentMessage


class MockSession:
    """A chat with the reference agent."""

    reconnects = 0  # in process: nothing to lose

    def __init__(self, agent: ReferenceAgent, chat_id: str) -> None:
        self.inbox = Inbox()
        self._agent = agent
        self._chat_id = chat_id
        self._sent = 0
        agent.connect(chat_id, self.inbox.deliver)

    async def send(self, text: str) -> SentMessage:
        t_call = Clock.now()
        self._agent.receive(self._chat_id, text)
        self._sent += 1
        return SentMessage(text, t_call, Clock.now(), self._sent)

    async def catch_up(self, window_end: float) -> None:
        """Nothing is ever lost in process."""

    async def close(self) -> None:
        self._agent.disconnect(self._chat_id)


class MockTransport:
    """Opens chats with per-scenario reference agents."""

    name = "mock"
    peer = "the reference agent"

    def __init__(
        self,
        clock: Clock,
        seed: int | str = 0,
        on_batch: Callable[[str, BatchRecord], object] | None = None,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.agents: dict[str, ReferenceAgent] = {}
        self._on_batch = on_batch

    def agent_for(self, scenario: Scenario) -> ReferenceAgent:
        agent = self.agents.get(scenario.name)
        if agent is None:
            sink = None if self._on_batch is None else partial(self._on_batch, scenario.name)
            seed = f"{self.seed}:{scenario.name}"
            agent = ReferenceAgent(scenario.agent, self.clock, seed, sink)
            self.agents[scenario.name] = agent
        return agent

    async def open(self, conversation_id: str, scenario: Scenario) -> MockSession:
        return MockSession(self.agent_for(scenario), conversation_id)

    def status(self) -> dict:
        return {}

    async def close(self) -> None:
        for agent in self.agents.values():
            for chat_id in agent.chat_ids():
                agent.disconnect(chat_id)
