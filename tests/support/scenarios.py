"""Scenarios the tests build: small, deterministic, with the reference agent's settings."""

from __future__ import annotations

from harness.scenario import Scenario

# A batching agent (debounce 1 s) and a persona that pauses 0.4 s inside its bursts.
BATCHED = """\
name: Batched
pattern: "C3 A3"
max_turns: 3
persona: {multi_message_probability: 0}
timing: {inter_message_delays: [0.4], think_time: 0.5}
collect: {first_reply_timeout: 20, quiet_window: 4.0, max_collect: 30}
agent: {debounce_s: 1.0, think_time_s: 0.6, reply_parts: 3, part_gap_s: 0.3}
"""


def make(name: str, **fields) -> Scenario:
    base = {
        "name": name,
        "persona": {
            "multi_message_probability": 0,
            "script": {"openers": ["Hello."], "messages": ["Next question."], "closings": ["Bye."]},
        },
        "timing": {"inter_message_delays": [0.4], "think_time": 0.5},
        "collect": {"first_reply_timeout": 5, "quiet_window": 1.0, "max_collect": 10},
        "max_turns": 2,
        "total_timeout": 100,
        "agent": {"debounce_s": 1.0, "think_time_s": 0.6, "reply_parts": 3, "part_gap_s": 0.3},
    }
    for key, value in fields.items():
        if isinstance(value, dict) and key in base:
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return Scenario.model_validate(base)


def scenario(name: str, delays: list, pattern: str = "C3 A") -> Scenario:
    """Every message names its scenario, so the bot's log maps back to conversations."""
    return Scenario.model_validate(
        {
            "name": name,
            "pattern": pattern,
            "max_turns": 2,
            "persona": {
                "multi_message_probability": 0,
                "script": {
                    "openers": [f"{name} hello."],
                    "messages": [f"{name} more."],
                    "follow_ups": [f"{name} also."],
                    "closings": [f"{name} bye."],
                },
            },
            "timing": {"inter_message_delays": delays, "think_time": 0.5},
            "collect": {"first_reply_timeout": 10, "quiet_window": 1.5, "max_collect": 20},
            "agent": {"debounce_s": 1.0, "think_time_s": 0.5, "reply_parts": 2, "part_gap_s": 0.3},
        }
    )
