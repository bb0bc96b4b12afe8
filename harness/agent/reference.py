"""The reference agent: a known system under test, for demos and for testing the harness.

It behaves like a typical production chat agent with a MessageBuffer: it waits for
``debounce_s`` of silence (never longer than ``max_batch_wait_s`` after a batch's first
message) before it processes the batch, thinks, then answers in several parts with gaps.
Its first part names every client message of the batch. At most ``capacity`` batches are
processed at once across all chats, so latency grows with load the way a real agent's
does.

Every batch, once finished (answered, cancelled, or dropped when its chat closed), is
handed to ``on_batch`` with the times everything happened, so the harness's measurements
can be checked against ground truth. Nothing is kept: a long run stays small.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.clock import Clock
from harness.scenario.models import AgentSettings

Deliver = Callable[[str], object]
BatchSink = Callable[["BatchRecord"], object]


@dataclass
class BatchRecord:
    """One processed batch: what came in, when it closed, what went out when."""

    chat_id: str
    batch_no: int
    received: list[tuple[str, float]]
    t_closed: float | None = None
    t_started: float | None = None
    sent: list[tuple[str, float]] = field(default_factory=list)
    cancelled: bool = False

    def to_dict(self) -> dict:
        return {
            "chat_id": self.chat_id,
            "batch": self.batch_no,
            "received": [{"text": text, "t": t} for text, t in self.received],
            "t_closed": self.t_closed,
            "t_started": self.t_started,
            "sent": [{"text": text, "t": t} for text, t in self.sent],
            "cancelled": self.cancelled,
        }


@dataclass
class _ChatBuffer:
    deliver: Deliver
    pending: list[tuple[str, float]] = field(default_factory=list)
    batch_started: float = 0.0
    timer: asyncio.TimerHandle | None = None
    tasks: set[asyncio.Task] = field(default_factory=set)
    batches: int = 0


class ReferenceAgent:
    """A debouncing, multi-part-replying agent that reports every batch it handled."""

    def __init__(
        self,
        settings: AgentSettings,
        clock: Clock,
        seed: int | str = 0,
        on_batch: BatchSink | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.closed_batches = 0
        self._on_batch = on_batch
        self._rng = random.Random(f"agent:{seed}")
        self._chats: dict[str, _ChatBuffer] = {}
        self._capacity = asyncio.Semaphore(settings.capacity) if settings.capacity else None

    def connect(self, chat_id: str, deliver: Deliver) -> None:
        """Start a chat; the agent's messages to it go to ``deliver``."""
        self._chats[chat_id] = _ChatBuffer(deliver)

    def chat_ids(self) -> list[str]:
        return list(self._chats)

    def disconnect(self, chat_id: str) -> None:
        """End a chat: a pending batch is logged as cancelled, replies in progress stop."""
        chat = self._chats.pop(chat_id, None)
        if chat is None:
            return
        if chat.timer is not None:
            chat.timer.cancel()
        if chat.pending:  # received but never processed: still part of the ground truth
            chat.batches += 1
            self._finished(
                BatchRecord(chat_id, chat.batches, chat.pending, Clock.now(), cancelled=True)
            )
        for task in chat.tasks:
            task.cancel()

    def receive(self, chat_id: str, text: str) -> float:
        """A client message arrives; returns the time the agent received it."""
        now = Clock.now()
        chat = self._chats[chat_id]
        if not chat.pending:
            chat.batch_started = now
        chat.pending.append((text, now))
        if chat.timer is not None:
            chat.timer.cancel()
        settings = self.settings
        due = min(
            now + self.clock.real(settings.debounce_s),
            chat.batch_started + self.clock.real(settings.max_batch_wait_s),
        )
        chat.timer = asyncio.get_running_loop().call_later(due - now, self._close_batch, chat_id)
        return now

    def _close_batch(self, chat_id: str) -> None:
        chat = self._chats.get(chat_id)
        if chat is None or not chat.pending:
            return
        chat.batches += 1
        record = BatchRecord(chat_id, chat.batches, chat.pending, t_closed=Clock.now())
        chat.pending, chat.timer = [], None
        self.closed_batches += 1
        task = asyncio.get_running_loop().create_task(self._answer(chat, record))
        chat.tasks.add(task)
        task.add_done_callback(chat.tasks.discard)

    async def _answer(self, chat: _ChatBuffer, record: BatchRecord) -> None:
        settings = self.settings
        think = self.clock.draw(self._rng, settings.think_time_s)
        parts = self._rng.randint(*settings.reply_parts)
        gaps = [self.clock.draw(self._rng, settings.part_gap_s) for _ in range(parts - 1)]
        try:
            if self._capacity is None:
                await self._speak(chat, record, think, parts, gaps)
            else:
                async with self._capacity:
                    await self._speak(chat, record, think, parts, gaps)
        except asyncio.CancelledError:
            record.cancelled = True
            raise
        finally:
            self._finished(record)

    def _finished(self, record: BatchRecord) -> None:
        if self._on_batch is not None:
            self._on_batch(record)

    async def _speak(
        self, chat: _ChatBuffer, record: BatchRecord, think: float, parts: int, gaps: list[float]
    ) -> None:
        record.t_started = Clock.now()
        await asyncio.sleep(think)
        for index in range(parts):
            if index:
                await asyncio.sleep(gaps[index - 1])
            text = reply_text(self.settings, record, index, parts)
            record.sent.append((text, Clock.now()))
            chat.deliver(text)


def reply_text(settings: AgentSettings, record: BatchRecord, index: int, parts: int) -> str:
    """Part ``index`` of the answer to a batch. The first is the scenario's next reply
    (``agent.replies``, cycled), the hand-over to a human once ``agent.escalate_after``
    batches were answered, or by default names every message in the batch."""
    if index:
        return f"[batch {record.batch_no}, part {index + 1}/{parts}] More on that."
    if settings.escalate_after is not None and record.batch_no > settings.escalate_after:
        return settings.escalation
    messages = " | ".join(f"«{text}»" for text, _ in record.received)
    if settings.replies:
        reply = settings.replies[(record.batch_no - 1) % len(settings.replies)]
        return reply.format_map({"batch": record.batch_no, "messages": messages})
    return f"[batch {record.batch_no}, {len(record.received)} msg] You said: {messages}"
