"""What the offline judges cost the event loop, per turn.

A scenario with every offline termination condition and evaluation (keywords in both
languages' defaults, regex, word-Jaccard, flow, satisfaction, memory, timing) judges
conversations of realistic messages; each turn's ``after_turn`` (the transcript lines
added, the turn's evaluations, every termination condition) and each conversation's
final judgment (``conclude``, shared out over its turns) are timed on one core. The
figure to hold: at most 0.05 ms per turn. Results go to the "Judging" section of
bench/RESULTS.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from results import replace_section  # noqa: E402

from harness.judging.judge import ConversationJudge  # noqa: E402
from harness.metrics.burst import BurstMeasurement  # noqa: E402
from harness.records import TranscriptEntry  # noqa: E402
from harness.scenario.models import Scenario  # noqa: E402

SECTION = "## Judging (offline)"
CONVERSATIONS = 2_000
TURNS = 8
LIMIT_MS = 0.05
CLIENT = [
    "Hi, my card ending in 4417 is blocked, can you help me please?",
    "I need it for a trip next week, it is quite urgent to be honest",
    "When will the new one arrive? And is there a fee for the replacement?",
    "Thanks, that's perfect!",
]
AGENT = [
    "Hello! I'm sorry to hear your card is blocked. Which card is it exactly?",
    "Thanks. I have checked your account and the card ending in 4417 is blocked.",
    "Done: your new card is on its way and will arrive in 3-5 working days.",
    "Is there anything else I can help you with today?",
]
SCENARIO = Scenario.model_validate(
    {
        "name": "Bench",
        "max_turns": TURNS,
        "min_turns": TURNS + 1,  # every condition is checked, none ends the conversation
        "persona": {"script": {"slots": {"card": ["4417"]}}},
        "outcomes": [
            {"label": "resolved", "agent_keywords": ["new card is on its way"]},
            {"label": "escalated", "agent_regex": r"(?i)specialist|transfer"},
        ],
        "termination_conditions": [
            {"type": "user_expresses_satisfaction"},
            {"type": "agent_provides_solution"},
            {"type": "escalation_needed"},
            {"type": "conversation_stuck", "turns": 3},
            {"type": "agent_silent", "turns": 2},
            {"type": "goal_achieved"},
        ],
        "turn_evaluations": [
            {"type": "string_contains", "value": "card"},
            {"type": "regex_match", "pattern": r"\d{4}"},
        ],
        "final_evaluations": [
            {"type": "conversation_length", "min_turns": 2, "max_turns": 10, "optimal_turns": 4},
            {
                "type": "conversation_flow",
                "required_patterns": [
                    "question_then_answer",
                    "empathy_then_solution",
                    "greeting_first",
                    "closing_last",
                ],
            },
            {"type": "user_satisfaction"},
            {"type": "context_retention", "test_memory_of": ["{card}"], "retention_turns": 3},
            {"type": "execution_time", "max_ms": 5000},
        ],
    }
)


async def judge_all(rng: random.Random) -> tuple[list[float], list[float]]:
    """Per turn: the time after_turn took, and its share of the final judgment."""
    turn_ms: list[float] = []
    final_ms: list[float] = []
    burst = BurstMeasurement(2, (1.0, 1.0), 800.0, 1200.0, (), 1, 0, None, 0, 0, 1, None, False)
    for n in range(CONVERSATIONS):
        judge = ConversationJudge(SCENARIO, {"card": "4417"})
        t = 0.0
        for turn in range(TURNS):
            entries = []
            for role, bank in (("client", CLIENT), ("agent", AGENT)):
                for _ in range(rng.randint(1, 3)):
                    t += 1.0
                    text = rng.choice(bank)
                    entries.append(TranscriptEntry(f"c{n}", "Bench", "u", turn, role, text, t))
            began = time.perf_counter()
            for entry in entries:
                judge.add(entry)
            await judge.after_turn(turn, burst)
            turn_ms.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        await judge.conclude("max_turns", TURNS, t)
        final_ms.extend([(time.perf_counter() - began) * 1000 / TURNS] * TURNS)
    return turn_ms, final_ms


def main() -> None:
    turn_ms, final_ms = asyncio.run(judge_all(random.Random(0)))
    per_turn = [a + b for a, b in zip(turn_ms, final_ms, strict=True)]
    cut = statistics.quantiles(per_turn, n=100)
    mean = statistics.fmean(per_turn)
    verdict = "holds" if mean <= LIMIT_MS else "DOES NOT HOLD"
    section = f"""{SECTION}

Measured {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} on {os.cpu_count()} cores, Python
{sys.version.split()[0]}. Command: `python bench/judging.py` (part of `make bench`).

{CONVERSATIONS:,} conversations of {TURNS} turns (1-3 messages a side, each about 70
characters) judged by a scenario with every offline termination condition (6) and
evaluation (2 per turn, 5 final), on the event loop's thread. A turn's cost is its
`after_turn` (transcript lines, turn evaluations, every condition checked: none ends the
conversation early) plus an equal share of the conversation's final judgment.

- **{mean:.4f} ms per turn** on average (p50 {cut[49]:.4f}, p99 {cut[98]:.4f} ms), of
  which the final judgment is {statistics.fmean(final_ms):.4f} ms: the {LIMIT_MS} ms
  bound {verdict}.
"""
    replace_section(SECTION, section)
    print(section)


if __name__ == "__main__":
    main()
