"""The mock transport: the reference agent in the same event loop, no network.

Zero setup and exact ground truth: each scenario gets its own reference agent (built
from the scenario's ``agent:`` settings); every batch it finishes goes to the transport's
``log`` with the scenario's name: ``reference_agent.jsonl`` (``AgentLog``), or a test's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import orjson

from harness.agent.reference import BatchRecord, ReferenceAgent
from harness.clock import Clock, Timeline
from harness.files import LineFile
from harness.options import Option, OptionGroup, output_file
from harness.scenario.models import Scenario
from harness.transport.base import Inbox, SentMessage
from harness.transport.kind import OpenContext, TransportKind

AGENT_LOG_FILE = "reference_agent.jsonl"


class BatchLog(Protocol):
    """Where the reference agents' finished batches go: ``AgentLog``, or a test's list."""

    def add(self, scenario: str, batch: BatchRecord) -> None: ...

    def close(self) -> None: ...


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

    def __init__(self, clock: Clock, seed: int | str = 0, log: BatchLog | None = None) -> None:
        self.clock = clock
        self.seed = seed
        self.agents: dict[str, ReferenceAgent] = {}
        self.log = log

    def agent_for(self, scenario: Scenario) -> ReferenceAgent:
        agent = self.agents.get(scenario.name)
        if agent is None:
            sink = None if self.log is None else partial(self.log.add, scenario.name)
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
        if self.log is not None:
            self.log.close()


class AgentLog:
    """``reference_agent.jsonl``: every batch the reference agents finished, on the
    transcripts' ``t_s`` axis. A restarted timeline (a new Locust test) starts the file
    afresh; batches begun before the timeline's start (an earlier test) are left out."""

    def __init__(self, path: Path, timeline: Timeline) -> None:
        self.path = path
        self._timeline = timeline
        self._file: LineFile | None = None
        self._generation = 0

    def add(self, scenario: str, batch: BatchRecord) -> None:
        started, _, generation = self._timeline.start  # one read: a consistent start
        if batch.received[0][1] < started:
            return
        if self._file is None or self._generation != generation:
            self.close()
            self._file = LineFile(self.path)
            self._generation = generation
        record = batch.to_dict()
        line = {
            "scenario": scenario,
            **record,
            "received": [self._message(m) for m in record["received"]],
            "sent": [self._message(m) for m in record["sent"]],
            "t_closed": self._maybe_relative(record["t_closed"]),
            "t_started": self._maybe_relative(record["t_started"]),
        }
        self._file.write(orjson.dumps(line) + b"\n")

    def _message(self, message: dict) -> dict:
        return {"text": message["text"], "t_s": self._timeline.relative(message["t"])}

    def _maybe_relative(self, monotonic: float | None) -> float | None:
        return None if monotonic is None else self._timeline.relative(monotonic)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(frozen=True)
class MockSettings:
    agent_log: Path | None = None
    """Where the reference agents' log goes (default: the report folder's, when the run
    writes transcripts)."""


class MockKind(TransportKind[MockSettings]):
    name = "mock"
    options = OptionGroup(
        "chatstorm mock transport",
        "With --transport mock (the default): the built-in reference agent.",
        (
            Option(
                "--agent-log",
                "Write the reference agent's own log (every batch it received and sent, "
                f"with times) here (default: {AGENT_LOG_FILE} in --report-dir, unless "
                "--no-transcripts).",
                parse=output_file,
                metavar="PATH",
                env="LOCUST_AGENT_LOG",
            ),
        ),
    )

    def settings(self, values: Mapping[str, Any]) -> MockSettings:
        path = values.get("agent_log")
        return MockSettings(Path(path) if path else None)

    async def open(self, settings: MockSettings, context: OpenContext) -> MockTransport:
        path = settings.agent_log
        if path is not None and context.process is not None:
            path = path.with_name(f"{path.stem}-{context.process}{path.suffix}")
        if path is None and context.writes_transcripts and context.report_dir is not None:
            path = context.report_dir / AGENT_LOG_FILE
        log = None if path is None else AgentLog(path, context.timeline)
        return MockTransport(context.clock, context.seed, log)


MOCK = MockKind()
