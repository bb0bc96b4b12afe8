"""Recorded conversations for the replay persona: the JSONL format, reading and importing.

A recording file holds one conversation per line::

    {"id": "c1", "scenario": "Support", "messages": [
        {"role": "client", "text": "hi", "t": 0.0}, {"role": "agent", "text": "hello", "t": 2.1}]}

``t`` is seconds since the conversation's first message, or null when unknown (generated
conversations carry none: the LLM's latency is no human pause). ``import_messages``
builds this from message-per-line JSONL (``role``, ``text``, ``time``; chatstorm's own
``transcripts.jsonl`` works as is). Every problem is one line, ``file:line: message``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

CLIENT_ROLES = frozenset({"client", "user", "customer", "human"})
AGENT_ROLES = frozenset({"agent", "assistant", "bot"})


class RecordingError(ValueError):
    """A recording or an import source is malformed; the message names file:line."""


@dataclass(frozen=True)
class RecordedMessage:
    role: str  # "client" or "agent"
    text: str
    t: float | None = None


@dataclass(frozen=True)
class Recording:
    id: str
    messages: tuple[RecordedMessage, ...]
    scenario: str | None = None

    def client_bursts(self) -> list[list[tuple[RecordedMessage, float | None]]]:
        """The client's runs of consecutive messages, each message with the gap (seconds)
        since the message before it in the conversation, when both times are known."""
        bursts: list[list[tuple[RecordedMessage, float | None]]] = []
        previous: RecordedMessage | None = None
        for message in self.messages:
            if message.role == "client":
                gap = None
                if previous is not None and previous.t is not None and message.t is not None:
                    gap = max(message.t - previous.t, 0.0)
                if previous is None or previous.role != "client":
                    bursts.append([])
                bursts[-1].append((message, gap))
            previous = message
        return bursts

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "scenario": self.scenario,
                "messages": [{"role": m.role, "text": m.text, "t": m.t} for m in self.messages],
            }
        )


def read_recordings(path: Path) -> list[Recording]:
    """Every conversation in a recording file; RecordingError on the first bad line."""
    recordings = []
    for number, data in _json_lines(path):
        where = f"{path}:{number}"
        messages = data.get("messages")
        if not isinstance(data.get("id"), str) or not isinstance(messages, list) or not messages:
            raise RecordingError(
                f'{where}: expected {{"id": str, "messages": [...]}} with at least one message'
            )
        parsed = tuple(_recorded(where, message) for message in messages)
        if not any(message.role == "client" for message in parsed):
            raise RecordingError(f"{where}: the conversation has no client message to replay")
        scenario = data.get("scenario")
        name = scenario if isinstance(scenario, str) else None
        recordings.append(Recording(data["id"], parsed, name))
    if not recordings:
        raise RecordingError(f"{path}: no conversations in the file")
    return recordings


def write_recordings(path: Path, recordings: Iterable[Recording]) -> int:
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        for recording in recordings:
            file.write(recording.to_json() + b"\n")
            count += 1
    return count


def import_messages(path: Path, scenario: str | None = None) -> list[Recording]:
    """Conversations from message-per-line JSONL: ``role`` (user/client/customer/human or
    assistant/agent/bot), ``text``, optional ``time`` (ISO 8601 or epoch seconds) and
    ``conversation`` / ``conversation_id`` (absent: the whole file is one conversation)."""
    grouped: dict[str, list[tuple[str, RecordedMessage]]] = {}
    for number, data in _json_lines(path):
        where = f"{path}:{number}"
        conversation = data.get("conversation", data.get("conversation_id", "1"))
        role = _role(where, data.get("role"))
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise RecordingError(f"{where}: text must be a non-empty string")
        grouped.setdefault(str(conversation), []).append(
            (where, RecordedMessage(role, text, _seconds(where, data.get("time"))))
        )
    if not grouped:
        raise RecordingError(f"{path}: no messages in the file")
    recordings = []
    for conversation, lines in grouped.items():
        times = [message.t for _, message in lines]
        known = [t for t in times if t is not None]
        if known and len(known) != len(times):
            where = next(where for where, message in lines if message.t is None)
            raise RecordingError(
                f"{where}: time is missing here but given elsewhere in {conversation!r}"
            )
        start = min(known) if known else 0.0
        messages = tuple(
            RecordedMessage(m.role, m.text, None if m.t is None else round(m.t - start, 3))
            for _, m in lines
        )
        if not any(message.role == "client" for message in messages):
            raise RecordingError(
                f"{lines[0][0]}: conversation {conversation!r} has no client message"
            )
        recordings.append(Recording(conversation, messages, scenario))
    return recordings


def _json_lines(path: Path) -> Iterable[tuple[int, dict]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read it ({exc})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise RecordingError(f"{path}:{number}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise RecordingError(f"{path}:{number}: expected a JSON object")
        yield number, data


def _recorded(where: str, message: object) -> RecordedMessage:
    if not isinstance(message, dict):
        raise RecordingError(f"{where}: each message must be an object with role and text")
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RecordingError(f"{where}: each message needs a non-empty text")
    t = message.get("t")
    if t is not None and (not isinstance(t, int | float) or isinstance(t, bool) or t < 0):
        raise RecordingError(f"{where}: t must be seconds since the first message, or null")
    return RecordedMessage(_role(where, message.get("role")), text, t)


def _role(where: str, role: object) -> str:
    if role in CLIENT_ROLES:
        return "client"
    if role in AGENT_ROLES:
        return "agent"
    raise RecordingError(
        f"{where}: role must be one of {', '.join(sorted(CLIENT_ROLES | AGENT_ROLES))}, "
        f"got {role!r}"
    )


def _seconds(where: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise RecordingError(
        f"{where}: time must be ISO 8601 (2026-01-31T12:00:05Z) or epoch seconds, got {value!r}"
    )
