"""Load shape plans, chosen with ``--shape``: how many users over time.

Every shape peaks at ``-u/--users`` and moves at ``-r/--spawn-rate``; its length is
``--shape-duration`` (or ``-t/--run-time``). A plan is a pure function of the run time,
so each shape is tested without Locust:

- steady: ramp up to the peak at the spawn rate, hold it to the end;
- ramp:   grow linearly from zero to the peak over the whole duration;
- step:   ``--shape-steps`` equal steps up to the peak, each an equal share of the duration;
- spike:  hold ``--shape-baseline`` users, jump to the peak for ``--shape-spike-length``
          in the middle of the run, fall back;
- soak:   like steady, for a long run (``--shape-duration`` defaults to one hour).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SHAPES = ("steady", "ramp", "step", "spike", "soak")
SOAK_DEFAULT_S = 3600.0

Plan = Callable[[float], int | None]


@dataclass(frozen=True)
class ShapeSettings:
    shape: str
    peak: int
    duration_s: float
    steps: int = 5
    baseline: int = 0
    spike_length_s: float = 60.0


def plan_for(settings: ShapeSettings) -> Plan:
    """Users wanted at each run time (seconds); None once the shape is over."""
    peak, duration = settings.peak, settings.duration_s

    def within(users: Callable[[float], float]) -> Plan:
        return lambda t: None if t >= duration else max(0, round(users(t)))

    if settings.shape in ("steady", "soak"):
        return within(lambda t: peak)
    if settings.shape == "ramp":
        return within(lambda t: peak * t / duration)
    if settings.shape == "step":
        step_length = duration / settings.steps
        return within(
            lambda t: peak * min(settings.steps, int(t // step_length) + 1) / settings.steps
        )
    if settings.shape == "spike":
        start = (duration - settings.spike_length_s) / 2
        end = start + settings.spike_length_s
        return within(lambda t: peak if start <= t < end else settings.baseline)
    raise ValueError(f"unknown shape {settings.shape!r}: choose one of {', '.join(SHAPES)}")
