"""Load shapes, chosen with ``--shape``: how many users over time.

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

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from locust import LoadTestShape
from locust.util.timespan import parse_timespan

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


def shape_requested(argv: Sequence[str]) -> bool:
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--shape", default=None)
    known, _ = early.parse_known_args(list(argv))
    return known.shape is not None


def settings_from(options: argparse.Namespace) -> ShapeSettings:
    """The shape's settings from Locust's parsed options; ValueError says what is missing."""
    duration = options.shape_duration or options.run_time
    if duration is None:
        if options.shape != "soak":
            raise ValueError(f"--shape {options.shape} needs --shape-duration or --run-time")
        duration = SOAK_DEFAULT_S
    elif isinstance(duration, str):
        duration = parse_timespan(duration)
    if not options.num_users:
        raise ValueError(f"--shape {options.shape} needs -u/--users (the peak)")
    settings = ShapeSettings(
        shape=options.shape,
        peak=options.num_users,
        duration_s=float(duration),
        steps=options.shape_steps,
        baseline=options.shape_baseline,
        spike_length_s=float(parse_timespan(options.shape_spike_length)),
    )
    if settings.shape == "spike" and settings.spike_length_s >= settings.duration_s:
        raise ValueError("--shape-spike-length must be shorter than the shape's duration")
    return settings


class ChatLoadShape(LoadTestShape):
    """The ``--shape`` plan, as Locust's load shape."""

    _plan: Plan | None = None

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options
        if self._plan is None:
            self._plan = plan_for(settings_from(options))
        users = self._plan(self.get_run_time())
        return None if users is None else (users, options.spawn_rate)
