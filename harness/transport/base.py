"""The transport protocol: how the engine talks to an agent, whatever carries the messages.

Every transport stamps times at the edge: ``SentMessage.t_ack`` when the send is
acknowledged, ``AgentMessage.t_received`` when a message arrives, both from
``Clock.now()`` on the asyncio side, before any hop to another thread.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass
from typing import Protocol

from harness.clock import Clock
from harness.scenario.models import Scenario
from harness.transport.traffic import TRAFFIC


class TransportError(Exception):
    """A failure the transport can name: ``category`` is how reports count it (a
    conversation that hits one ends with that category as its reason). ``peer`` names
    what could not be reached when the failure is an outage, not one chat's."""

    category = "transport_error"
    peer: str | None = None


class SendTimeout(TransportError):
    """The transport did not acknowledge a send within the scenario's ``send_timeout``."""

    category = "send_timeout"


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
    action: str | None = None
    """A chat action the agent showed (``typing``...), not a message; ``text`` is empty."""

    @property
    def is_new(self) -> bool:
        """A new message: neither an edit nor a chat action."""
        return not self.edit and self.action is None


class Session(Protocol):
    """One conversation's channel to the agent."""

    inbox: Inbox
    reconnects: int
    """Times the connection under this session was lost and restored (0 where it cannot
    be): a turn spanning one is marked, its timing being the network's."""

    async def send(self, text: str) -> SentMessage: ...

    async def catch_up(self, window_end: float) -> None:
        """Before a reply window closes (at ``window_end``, on the ``Clock.now()`` axis):
        fetch what was sent but is stuck on the way, and deliver it marked ``recovered``.
        Transports that cannot lose messages do nothing."""
        ...

    async def close(self) -> None: ...


class Transport(Protocol):
    """Opens sessions; one instance per process, shared by every conversation in it."""

    name: str
    peer: str
    """What is on the other side, as a log line names it: "Telegram"."""

    async def open(self, conversation_id: str, scenario: Scenario) -> Session: ...

    async def close(self) -> None: ...

    def status(self) -> dict:
        """What the live view shows about the transport itself (may be empty)."""
        ...


class Inbox:
    """Arrived agent messages of one session, in order, with a deadline-aware ``get``.

    Cheaper than ``asyncio.wait_for(queue.get())``: no task per wait, one timer handle.
    ``bot_errors`` counts the agent's own failures the transport saw in this chat (a bot
    answered 429 by the Bot API emulator), by (category, detail).
    """

    __slots__ = ("_failure", "_messages", "_waiter", "bot_errors")

    def __init__(self) -> None:
        self._messages: deque[AgentMessage] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._failure: TransportError | None = None
        self.bot_errors: Counter[tuple[str, str]] = Counter()

    def fail(self, failure: TransportError) -> None:
        """The channel under this inbox is gone: whoever waits, and every ``get`` once
        the messages that did arrive are taken, gets ``failure`` instead of a timeout."""
        self._failure = failure
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def deliver(
        self,
        text: str,
        message_id: int | str | None = None,
        recovered: bool = False,
        edit: bool = False,
        action: str | None = None,
        t_received: float | None = None,
    ) -> AgentMessage:
        """Store an arriving message (or edit, or chat action), stamped now unless the
        transport knows better (``t_received``); wakes a pending ``get``."""
        now = Clock.now()
        t = now if t_received is None else t_received
        TRAFFIC.last = now
        message = AgentMessage(text, t, message_id, recovered, edit, action)
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
        if self._failure is not None:
            raise self._failure
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
        if self._messages:
            return self._messages.popleft()
        if self._failure is not None:
            raise self._failure
        return None


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
