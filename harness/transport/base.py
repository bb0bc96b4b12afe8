"""The transport protocol: how the engine talks to an agent, whatever carries the messages.

Every transport stamps times at the edge: ``SentMessage.t_ack`` when the send is
acknowledged, ``AgentMessage.t_received`` when a message arrives, both from
``Clock.now()`` on the asyncio side, before any hop to another thread.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from harness.clock import Clock
from harness.scenario.models import Scenario


class TransportError(Exception):
    """A failure the transport can name: ``category`` is how reports count it (a
    conversation that hits one ends with that category as its reason)."""

    category = "transport_error"


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A client message the transport has delivered: ``t_ack - t_call`` is the send time."""

    text: str
    t_call: float
    t_ack: float
    message_id: int | str | None = None


@dataclass(frozen=True, slots=True)
class AgentMessage:
    """A message from the agent, stamped on arrival."""

    text: str
    t_received: float
    message_id: int | str | None = None
    recovered: bool = False
    """Fetched by ``Session.catch_up`` because its push was lost on the way."""
    edit: bool = False
    """An edit of an earlier message (``message_id``), not a new one."""


class Session(Protocol):
    """One conversation's channel to the agent."""

    inbox: Inbox
    reconnects: int
    """Times the connection under this session was lost and restored (0 where it cannot
    be): a turn spanning one is marked, its timing being the network's."""

    async def send(self, text: str) -> SentMessage: ...

    async def catch_up(self) -> None:
        """Before a reply window closes: fetch what was sent but is stuck on the way, and
        deliver it marked ``recovered``. Transports that cannot lose messages do nothing."""
        ...

    async def close(self) -> None: ...


class Transport(Protocol):
    """Opens sessions; one instance per process, shared by every conversation in it."""

    name: str

    async def open(self, conversation_id: str, scenario: Scenario) -> Session: ...

    async def close(self) -> None: ...

    def status(self) -> dict:
        """What the live view shows about the transport itself (may be empty)."""
        ...


class Inbox:
    """Arrived agent messages of one session, in order, with a deadline-aware ``get``.

    Cheaper than ``asyncio.wait_for(queue.get())``: no task per wait, one timer handle.
    """

    __slots__ = ("_messages", "_waiter")

    def __init__(self) -> None:
        self._messages: deque[AgentMessage] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def deliver(
        self,
        text: str,
        message_id: int | str | None = None,
        recovered: bool = False,
        edit: bool = False,
    ) -> AgentMessage:
        """Stamp and store an arriving message (or edit); wakes a pending ``get``."""
        message = AgentMessage(text, Clock.now(), message_id, recovered, edit)
        self._messages.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return message

    def unget(self, message: AgentMessage) -> None:
        """Put a message taken too early back at the front, for whoever reads next."""
        self._messages.appendleft(message)

    def drain(self) -> list[AgentMessage]:
        """Every message waiting now, without waiting."""
        messages = list(self._messages)
        self._messages.clear()
        return messages

    async def get(self, timeout: float) -> AgentMessage | None:
        """The next message, or None when ``timeout`` real seconds pass first."""
        if self._messages:
            return self._messages.popleft()
        if timeout <= 0:
            return None
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        return self._messages.popleft() if self._messages else None


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
