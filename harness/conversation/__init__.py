"""The conversation engine: pattern steps, bursts with pauses, reply collection, transcript."""

from harness.conversation.engine import Conversation, run_conversation
from harness.records import (
    ConversationObserver,
    ConversationResult,
    LateReplies,
    PersonaRecord,
    TranscriptEntry,
    TurnRecord,
)

__all__ = [
    "Conversation",
    "ConversationObserver",
    "ConversationResult",
    "LateReplies",
    "PersonaRecord",
    "TranscriptEntry",
    "TurnRecord",
    "run_conversation",
]
