"""Personality presets: eight kinds of people, each a set of traits and a description.

A preset fills in what a scenario leaves out, never what it says: its traits are the
defaults of ``persona.traits``; ``tendency_to_interrupt`` is the default
``multi_message_probability`` (an interrupter bursts more); ``patience`` scales the default
think time and pauses, and the typing speed scales the default pauses between messages of
a burst (an impatient person pauses less, an elderly one types slower). The LLM persona's
prompt describes the person with ``description`` and the traits.

``normal`` reproduces the plain defaults exactly, so a scenario without a personality
behaves as it always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_INTER_MESSAGE_DELAYS = ((0.5, 3.0),)
DEFAULT_THINK_TIME = (2.0, 8.0)


@dataclass(frozen=True)
class Preset:
    description: str
    patience: float
    tech_comfort: float
    tendency_to_interrupt: float
    provides_clear_info: float
    typing_chars_per_min: float

    def traits(self) -> dict[str, float]:
        return {
            "patience": self.patience,
            "tech_comfort": self.tech_comfort,
            "tendency_to_interrupt": self.tendency_to_interrupt,
            "provides_clear_info": self.provides_clear_info,
            "typing_chars_per_min": self.typing_chars_per_min,
        }


PRESETS: dict[str, Preset] = {
    "normal": Preset(
        "an ordinary customer: polite, reasonably clear, patient within reason",
        0.5, 0.5, 0.3, 0.5, 200,
    ),
    "difficult": Preset(
        "a difficult customer: argues, questions every answer, hard to satisfy",
        0.3, 0.5, 0.5, 0.3, 220,
    ),
    "confused": Preset(
        "a confused customer: unsure what they need, mixes things up, asks the same thing twice",
        0.6, 0.2, 0.3, 0.2, 150,
    ),
    "angry": Preset(
        "an angry customer: upset and blunt, wants it fixed right now, may write in capitals",
        0.1, 0.5, 0.8, 0.4, 260,
    ),
    "elderly": Preset(
        "an elderly customer: polite and formal, unfamiliar with technology, writes slowly "
        "in full sentences",
        0.8, 0.1, 0.1, 0.5, 80,
    ),
    "tech_savvy": Preset(
        "a tech-savvy customer: precise, uses technical terms, gives exact details",
        0.5, 0.9, 0.3, 0.9, 320,
    ),
    "impatient": Preset(
        "an impatient customer: in a hurry, short messages, chases every reply",
        0.1, 0.6, 0.8, 0.5, 300,
    ),
    "suspicious": Preset(
        "a suspicious customer: distrustful, asks for proof and guarantees, reluctant to "
        "share personal data",
        0.4, 0.5, 0.3, 0.3, 200,
    ),
}  # fmt: skip
NORMAL = PRESETS["normal"]  # the plain defaults of every persona field a preset fills


def fill_persona_defaults(data: Any) -> Any:
    """The raw persona mapping with the preset's traits and burst probability filled in
    where the scenario gave none (anything malformed is left for validation to report)."""
    if not isinstance(data, dict):
        return data
    personality = data.get("personality", "normal")
    preset = PRESETS.get(personality) if isinstance(personality, str) else None
    traits = data.get("traits", {})
    if preset is None or not isinstance(traits, dict):
        return data
    merged = {**preset.traits(), **traits}
    filled = {**data, "traits": merged}
    interrupt = merged["tendency_to_interrupt"]
    if "multi_message_probability" not in data and _is_number(interrupt):
        filled["multi_message_probability"] = interrupt
    return filled


def fill_timing_defaults(timing: Any, traits: Any) -> Any:
    """The raw timing mapping with think time and pauses scaled by the persona's patience
    and typing speed where the scenario gave none."""
    if timing is None:
        timing = {}
    if not isinstance(timing, dict) or not isinstance(traits, dict):
        return timing
    patience, cpm = traits.get("patience"), traits.get("typing_chars_per_min")
    if not (_is_number(patience) and _is_number(cpm)) or cpm <= 0:
        return timing
    pace = 0.5 + patience  # 1.0 for normal patience (0.5)
    filled = dict(timing)
    if "think_time" not in timing:
        filled["think_time"] = _scaled(DEFAULT_THINK_TIME, pace)
    if "inter_message_delays" not in timing:
        typing = NORMAL.typing_chars_per_min / cpm
        filled["inter_message_delays"] = [
            _scaled(span, pace * typing) for span in DEFAULT_INTER_MESSAGE_DELAYS
        ]
    return filled


def _scaled(span: tuple[float, float], factor: float) -> list[float]:
    return [round(span[0] * factor, 3), round(span[1] * factor, 3)]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
