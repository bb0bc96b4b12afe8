"""What a conversation produces: transcript lines, measured turns, and how it ended.

These are plain immutable records, made on the asyncio side and safe to hand to another
thread (the Locust side drains them in batches).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from harness.metrics.burst import BurstMeasurement
from harness.metrics.persona_usage import PersonaUsage
from harness.verdicts import Judgment

# max_turns, total_timeout, interrupted, error, persona_ended (the persona said it was
# done), a termination condition's type (conversation_stuck, ...), or a transport's own
# category (flood_wait, account_retired, ...).
EndReason = str
Role = Literal["client", "agent"]


TRANSCRIBED_PER_TURN = 200
"""Agent messages of one turn kept whole (transcript, judge, the persona's history). A bot
that floods a chat with thousands is still measured and counted, but what it says beyond
these is not kept: the harness's memory stays bounded, whatever the bot does."""


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    conversation_id: str
    scenario: str
    persona: str
    turn: int
    role: Role
    text: str
    t: float
    """Monotonic seconds: when the client message was acknowledged or the agent's arrived."""
    edit: bool = False
    """The agent edited an earlier message to this text (a bot streaming by editing)."""
    action: str | None = None
    """The agent showed a chat action (``typing``...): no message, ``text`` is empty."""


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One turn whose reply collection has closed, reported at once."""

    conversation_id: str
    scenario: str
    turn: int
    burst: BurstMeasurement
    reconnected: bool = False
    """The connection to the agent was lost and restored during this turn: its messages
    count, its timing does not (it is the outage's, not the agent's)."""


@dataclass(frozen=True, slots=True)
class LateReplies:
    """Agent messages that arrived after a turn's collection closed, before the next burst."""

    conversation_id: str
    scenario: str
    turn: int
    count: int


@dataclass(frozen=True, slots=True)
class PersonaRecord:
    """What the persona spent making one burst: LLM requests, tokens, cost, fallbacks."""

    conversation_id: str
    scenario: str
    turn: int
    usage: PersonaUsage


@dataclass(frozen=True, slots=True)
class ConversationResult:
    conversation_id: str
    scenario: str
    turns: int
    end_reason: EndReason
    bursts_interrupted: int
    error: str | None = None
    bot_errors: tuple[tuple[tuple[str, str], int], ...] = ()
    """The agent's own failures the transport saw in this chat: ((category, detail), count)."""
    outage: str | None = None
    """What could not be reached ("Telegram", "the Bot API emulator", "Redis") when the
    conversation could not start or lost its transport: the runtime backs off."""
    judgment: Judgment | None = None
    """For a scenario that declares what to judge by."""
    untranscribed: int = 0
    """Agent messages counted but not kept whole: beyond ``TRANSCRIBED_PER_TURN`` in one
    turn (a bot that floods the chat)."""


class ConversationObserver(Protocol):
    """Receives everything a conversation produces, as it happens."""

    def on_message(self, entry: TranscriptEntry) -> None: ...

    def on_turn(self, record: TurnRecord) -> None: ...

    def on_late(self, record: LateReplies) -> None: ...

    def on_persona(self, record: PersonaRecord) -> None:
        """Only personas that spend something (LLM, replay) report; scripted ones do not."""
        ...

    def on_end(self, result: ConversationResult) -> None: ...
