"""Conversation patterns: who speaks, how many messages, in what order.

``"C3 A1 C2 A1"`` means: the client sends three messages (with human pauses), waits for
the agent's reply (expected to be one message, a hint and never a filter), sends two,
waits again. ``C`` without a count lets the persona decide the burst size; ``A`` without
a count accepts a reply of any length. The pattern cycles until the conversation ends.

Consecutive steps of one speaker form one turn: ``C1 C2 A1`` is a burst of three
messages sent as two thoughts, ``A1 A1`` one reply expected in two messages.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Speaker = Literal["C", "A"]

_TOKEN = re.compile(r"^([CA])(\d+)?$")


@dataclass(frozen=True)
class Step:
    """One pattern step: a speaker and an exact count (None: decided at run time)."""

    speaker: Speaker
    count: int | None = None

    def __str__(self) -> str:
        return f"{self.speaker}{'' if self.count is None else self.count}"


@dataclass(frozen=True)
class Turn:
    """One client burst followed by one agent reply collection.

    ``thoughts`` are the burst's client steps in order (each an exact count or None);
    ``expected_reply`` is the summed agent count, None when any agent step is open.
    """

    thoughts: tuple[int | None, ...]
    expected_reply: int | None


DEFAULT_PATTERN: tuple[Step, ...] = (Step("C"), Step("A"))


def parse_pattern(value: str | list | tuple | None) -> tuple[Step, ...]:
    """Parse ``"C3 A1 C2 A1"`` or ``[["C", 3], ["A", 1]]``; None gives alternating ``C A``.

    Raises ValueError naming the offending token.
    """
    if value is None:
        return DEFAULT_PATTERN
    if isinstance(value, str):
        raw = value.replace(",", " ").replace("-", " ").split()
        steps = [_parse_token(token) for token in raw]
    elif isinstance(value, list | tuple):
        steps = [_parse_pair(item) for item in value]
    else:
        raise ValueError(f"pattern must be a string like 'C3 A1' or a list of pairs, got {value!r}")
    if not steps:
        raise ValueError("pattern is empty; write at least 'C A'")
    if steps[0].speaker != "C":
        raise ValueError(f"pattern must start with the client (C), got '{steps[0]}'")
    if not any(step.speaker == "A" for step in steps):
        raise ValueError("pattern has no agent step (A): the harness would never wait for a reply")
    return tuple(steps)


def _parse_token(token: str) -> Step:
    match = _TOKEN.match(token.upper())
    if not match:
        raise ValueError(f"bad pattern step {token!r}: write C or A followed by an optional count")
    return _step(match.group(1), None if match.group(2) is None else int(match.group(2)))


def _parse_pair(item: object) -> Step:
    if isinstance(item, str):
        return _parse_token(item)
    if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str):
        speaker, count = item
        if speaker.upper() in ("C", "A") and (count is None or isinstance(count, int)):
            return _step(speaker.upper(), count)
    raise ValueError(f"bad pattern step {item!r}: write [speaker, count] with speaker C or A")


def _step(speaker: str, count: int | None) -> Step:
    if count is not None and count < 1:
        raise ValueError(f"pattern step {speaker}{count}: the count must be at least 1")
    return Step(speaker, count)  # type: ignore[arg-type]


def iter_turns(steps: tuple[Step, ...]) -> Iterator[Turn]:
    """The endless sequence of turns the pattern describes, cycling it.

    Runs of one speaker merge, across the cycle boundary too: in ``C1 A1 C2`` the
    trailing ``C2`` joins the next cycle's ``C1`` into one burst of three.
    """
    thoughts: list[int | None] = []
    replies: list[int | None] = []
    for step in itertools.cycle(steps):
        if step.speaker == "A":
            replies.append(step.count)
            continue
        if replies:
            expected = None if None in replies else sum(r for r in replies if r is not None)
            yield Turn(tuple(thoughts), expected)
            thoughts, replies = [], []
        thoughts.append(step.count)


def format_pattern(steps: tuple[Step, ...]) -> str:
    return " ".join(str(step) for step in steps)
