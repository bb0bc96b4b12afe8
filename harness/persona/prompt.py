"""The LLM persona's prompt: who the person is, the conversation so far, what to write now.

Roles are reversed: the model plays the person, so the person's past messages are the
``assistant`` turns and the agent's messages are the ``user`` turns. The system prompt
(persona and rules) is the same for every conversation of a scenario and is marked for
prompt caching; what varies (the facts this conversation knows, the history, this turn's
instruction) comes after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.scenario.judging import Goals
from harness.scenario.models import Persona, Traits
from harness.scenario.presets import PRESETS

BURST_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "messages": {"type": "array", "items": {"type": "string"}},
        "end_conversation": {"type": "boolean"},
    },
    "required": ["messages", "end_conversation"],
    "additionalProperties": False,
}
CACHED = {"type": "ephemeral"}

RULES = """\
How you write:
- You are the customer, never the assistant. The assistant's messages reach you as the \
other side of the chat; you answer them as this person would.
- Write like a real person typing in a messenger on a phone: short messages, no markdown, \
no headings; a long thought goes out as several short messages.
- Pursue your goal. React to what the assistant actually said; if it did not help, say so \
the way this person would. Do not repeat your earlier messages word for word.
- Never mention that you are an AI, a model, a test or a simulation.
- Reply with JSON only: {"messages": ["..."], "end_conversation": false}. Each string in \
"messages" is one chat message, in sending order. Set "end_conversation" to true only when \
this person would leave the chat now: the goal is reached (what satisfies you is met), \
or it has clearly failed and they give up."""


def system_blocks(persona: Persona, goals: Goals | None = None) -> list[dict]:
    """The static part of the prompt, marked for prompt caching."""
    text = describe(persona, goals) + "\n\n" + RULES
    return [{"type": "text", "text": text, "cache_control": CACHED}]


def describe(persona: Persona, goals: Goals | None = None) -> str:
    """Who the person is and what they want: the scenario's goals, when it has them
    (never the judge's evaluations: the person does not know how they are judged)."""
    lines = [
        "You play a person who writes to a company's chat assistant in a messenger.",
        "",
        "Who you are:",
        f"- Name: {persona.name}",
        f"- Personality: {PRESETS[persona.personality].description}",
        f"- Writing style: {persona.style}",
        f"- Language: write only in the language with code {persona.language!r}",
        f"- Knowledge of the subject: {persona.knowledge_level}",
        f"- Emotional state: {persona.emotional_state}",
        f"- Goal: {(goals and goals.primary) or persona.objective}",
    ]
    if goals is not None:
        lines.extend(f"- Also want: {goal}" for goal in goals.secondary)
        lines.extend(f"- Satisfied when: {criterion}" for criterion in goals.success_criteria)
        lines.extend(f"- Give up when: {condition}" for condition in goals.failure_conditions)
    lines.extend(f"- Constraint: {constraint}" for constraint in persona.constraints)
    lines.append(f"- Traits: {describe_traits(persona.traits)}")
    return "\n".join(lines)


def describe_traits(traits: Traits) -> str:
    return "; ".join(
        [
            f"patience {_level(traits.patience)}",
            f"comfort with technology {_level(traits.tech_comfort)}",
            f"tendency to interrupt and send several messages in a row "
            f"{_level(traits.tendency_to_interrupt)}",
            f"gives clear, complete information {_level(traits.provides_clear_info)}",
            f"types about {traits.typing_chars_per_min:.0f} characters a minute",
        ]
    )


def _level(value: float) -> str:
    word = "low" if value < 0.34 else "medium" if value < 0.67 else "high"
    return f"{word} ({value:.1f})"


def conversation_messages(
    history: Sequence[tuple[str, str]], facts: Mapping[str, str], instruction: str
) -> list[dict]:
    """The Messages API ``messages``: the chat so far with roles reversed, consecutive
    messages of one side merged into one turn, ending with this turn's instruction."""
    opening = "[The chat is open.]"
    if facts:
        known = ", ".join(f"{name}: {value}" for name, value in facts.items())
        opening = f"[The chat is open. Facts you know and may use: {known}.]"
    turns: list[dict] = [{"role": "user", "content": [_text(opening)]}]
    for speaker, text in history:
        if not text.strip():  # the API refuses empty text blocks
            continue
        role = "assistant" if speaker == "client" else "user"
        if turns[-1]["role"] == role:
            turns[-1]["content"].append(_text(text))
        else:
            turns.append({"role": role, "content": [_text(text)]})
    if turns[-1]["role"] == "assistant":
        turns.append({"role": "user", "content": [_text("[No reply from the assistant yet.]")]})
    turns[-1]["content"].append(_text(f"[{instruction}]"))
    return turns


def turn_instruction(low: int, high: int, is_last_turn: bool, first_turn: bool) -> str:
    """What the person does now: how many messages, and whether to wrap up."""
    what = "your first message" if first_turn else "your next message"
    if low == high == 1:
        count = f"Write {what}: exactly one chat message."
    elif low == high:
        count = f"Write {what} as exactly {high} short chat messages in a row."
    else:
        count = f"Write {what} as {low} to {high} short chat messages in a row, as you would."
    if is_last_turn:
        count += " This is your last turn: wrap up the conversation."
    return count


def _text(text: str) -> dict:
    return {"type": "text", "text": text}
