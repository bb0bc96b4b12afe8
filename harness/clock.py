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


class Timeline:
    """The ``t_s`` axis of a run's files: seconds since the run (a Locust test) began.

    The transcripts and the reference agent's log share one, so their times compare
    directly; a new Locust test ``restart``\\ s it, and what writes on it starts afresh.
    """

    def __init__(self) -> None:
        self._start = (Clock.now(), time.time(), 1)

    def restart(self) -> None:
        """Start anew, at once: another thread reads the three values together, never the
        new start with the old generation."""
        self._start = (Clock.now(), time.time(), self._start[2] + 1)

    @property
    def start(self) -> tuple[float, float, int]:
        """(monotonic, wall-clock, generation) of the start, read together."""
        return self._start

    @property
    def started_mono(self) -> float:
        return self._start[0]

    @property
    def started_wall(self) -> float:
        return self._start[1]

    @property
    def generation(self) -> int:
        return self._start[2]

    def relative(self, monotonic: float) -> float:
        """Seconds since the start: the ``t_s`` of transcripts and logs."""
        return round(monotonic - self._start[0], 6)

    def wall_time(self, monotonic: float) -> float:
        """Epoch seconds of a monotonic timestamp, anchored at the start."""
        mono, wall, _ = self._start
        return wall + (monotonic - mono)
