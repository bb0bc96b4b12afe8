"""The mock transport: the reference agent in the same event loop, no network.

Zero setup and exact ground truth: each scenario gets its own reference agent (built
from the scenario's ``agent:`` settings), whose log the tests compare with the harness's
readings.
"""

from __future__ import annotations

from harness.agent.reference import ReferenceAgent
from harness.clock import Clock
from harness.scenario.models import Scenario
from harness.transport.base import Inbox, SentMessage


class MockSession:
    """A chat with the reference agent."""

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

    async def close(self) -> None:
        self._agent.disconnect(self._chat_id)


class MockTransport:
    """Opens chats with per-scenario reference agents."""

    name = "mock"

    def __init__(self, clock: Clock, seed: int | str = 0) -> None:
        self.clock = clock
        self.seed = seed
        self.agents: dict[str, ReferenceAgent] = {}

    def agent_for(self, scenario: Scenario) -> ReferenceAgent:
        agent = self.agents.get(scenario.name)
        if agent is None:
            agent = ReferenceAgent(scenario.agent, self.clock, f"{self.seed}:{scenario.name}")
            self.agents[scenario.name] = agent
        return agent

    async def open(self, conversation_id: str, scenario: Scenario) -> MockSession:
        return MockSession(self.agent_for(scenario), conversation_id)

    async def close(self) -> None:
        for agent in self.agents.values():
            for chat_id in agent.chat_ids():
                agent.disconnect(chat_id)

    def ground_truth(self) -> list[dict]:
        """Every batch every reference agent processed, with monotonic times."""
        return [
            {"scenario": name, **batch.to_dict()}
            for name, agent in sorted(self.agents.items())
            for batch in agent.log
        ]
