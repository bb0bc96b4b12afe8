"""One observer for tests: everything conversations produce, kept, beside the Recorder's
own figures (what a run's report would say)."""

from __future__ import annotations

from harness.records import (
    ConversationResult,
    LateReplies,
    TranscriptEntry,
    TurnRecord,
)
from harness.report import Recorder


class Collected(Recorder):
    """Transcript lines, measured turns, late replies by (conversation, turn), and how
    each conversation ended; ``stats`` has the figures."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[TranscriptEntry] = []
        self.turns: list[TurnRecord] = []
        self.late: dict[tuple[str, int], int] = {}
        self.ends: list[ConversationResult] = []

    def on_message(self, entry: TranscriptEntry) -> None:
        self.messages.append(entry)

    def on_turn(self, record: TurnRecord) -> None:
        super().on_turn(record)
        self.turns.append(record)

    def on_late(self, record: LateReplies) -> None:
        super().on_late(record)
        self.late[record.conversation_id, record.turn] = record.count

    def on_end(self, result: ConversationResult) -> None:
        super().on_end(result)
        self.ends.append(result)

    def turns_of(self, scenario: str) -> list[TurnRecord]:
        return [turn for turn in self.turns if turn.scenario == scenario]

    def texts(self, conversation_id: str, role: str = "client") -> list[str]:
        return [
            entry.text
            for entry in self.messages
            if entry.conversation_id == conversation_id and entry.role == role
        ]

    def usage(self, scenario: str):
        """What the scenario's personas spent (LLM requests, tokens, cost)."""
        return self.stats.scenario(scenario).persona_usage
