"""The ``--shape`` plan as Locust's load shape, and its settings from the command line.

The plans themselves are in ``harness.locust.shape_plan`` (pure, no Locust import).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from locust import LoadTestShape

from harness.locust.shape_plan import SOAK_DEFAULT_S, Plan, ShapeSettings, plan_for


def shape_requested(argv: Sequence[str]) -> bool:
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--shape", default=None)
    known, _ = early.parse_known_args(list(argv))
    return known.shape is not None


def settings_from(options: argparse.Namespace) -> ShapeSettings:
    """The shape's settings from Locust's parsed options; ValueError says what is missing."""
    duration = options.shape_duration or options.run_time
    if not duration:  # -t 0 is no run time, to Locust as here
        if options.shape != "soak":
            raise ValueError(f"--shape {options.shape} needs --shape-duration or --run-time")
        duration = SOAK_DEFAULT_S
    if not options.num_users:
        raise ValueError(f"--shape {options.shape} needs -u/--users (the peak)")
    settings = ShapeSettings(
        shape=options.shape,
        peak=options.num_users,
        duration_s=float(duration),
        steps=options.shape_steps,
        baseline=options.shape_baseline,
        spike_length_s=options.shape_spike_length,
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
