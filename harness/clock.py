"""Scenario time versus real time.

Every duration written in a scenario is in *scenario seconds*. A run's ``time_scale``
multiplies all of them, on the harness side and the reference-agent side alike, so a
scenario with two-minute pauses can run in CI in a second. Measurements are never
scaled: they are real monotonic time, and ``time_scale`` in the report says how to
convert back.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

Range = tuple[float, float]


@dataclass(frozen=True)
class Clock:
    """Converts scenario seconds to real seconds and sleeps in real time."""

    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {self.time_scale}")

    def real(self, scenario_seconds: float) -> float:
        """Real seconds for a scenario duration."""
        return scenario_seconds * self.time_scale

    def draw(self, rng: random.Random, span: Range) -> float:
        """A uniformly drawn duration from a scenario range, in real seconds."""
        lo, hi = span
        return self.real(rng.uniform(lo, hi) if hi > lo else lo)

    @staticmethod
    def now() -> float:
        """The one time source of every measurement: monotonic seconds."""
        return time.monotonic()
