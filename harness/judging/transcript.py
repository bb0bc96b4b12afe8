"""The conversation as the judges read it: per turn, what the person sent, what the
agent answered (late replies included), and how soon."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.records import TranscriptEntry


@dataclass
class TurnText:
    index: int
    client: list[str] = field(default_factory=list)
    agent: list[str] = field(default_factory=list)
    first_reply_ms: float | None = None
    timed_out: bool = False
    measured: bool = False

    @property
    def reply(self) -> str:
        return " ".join(self.agent)

    @property
    def burst(self) -> str:
        return " ".join(self.client)


class Transcript:
    def __init__(self) -> None:
        self._turns: dict[int, TurnText] = {}
        self.messages: list[tuple[str, int, str]] = []
        """(role, turn, text) in time order: messages, not chat actions."""

    def add(self, entry: TranscriptEntry) -> None:
        """A message; an edit replaces the agent's latest message of that turn (a bot
        streaming its answer by editing it), a chat action is no message."""
        if entry.action is not None:
            return
        turn = self.turn(entry.turn)
        if entry.edit and turn.agent:
            turn.agent[-1] = entry.text
            latest = max(
                i
                for i, (role, n, _) in enumerate(self.messages)
                if role == "agent" and n == entry.turn
            )
            self.messages[latest] = ("agent", entry.turn, entry.text)
            return
        (turn.client if entry.role == "client" else turn.agent).append(entry.text)
        self.messages.append((entry.role, entry.turn, entry.text))

    def turn(self, index: int) -> TurnText:
        turn = self._turns.get(index)
        if turn is None:
            turn = self._turns[index] = TurnText(index)
        return turn

    def measured(self, index: int, first_reply_ms: float | None, timed_out: bool) -> TurnText:
        turn = self.turn(index)
        turn.first_reply_ms, turn.timed_out, turn.measured = first_reply_ms, timed_out, True
        return turn

    def turns(self, upto: int | None = None) -> list[TurnText]:
        """The turns in order (to ``upto``, included)."""
        chosen = sorted(self._turns)
        return [self._turns[i] for i in chosen if upto is None or i <= upto]

    def texts(self, role: str) -> list[str]:
        return [text for who, _, text in self.messages if who == role]
