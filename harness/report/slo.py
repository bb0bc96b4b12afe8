"""Service-level objectives: each one checked against the run's figures, PASS or FAIL.

Objectives come from each scenario's ``expect:`` and from the command line
(``--expect KEY=VALUE``), which overrides the scenario's value for every scenario. An
objective with nothing to measure (no replies at all, say) fails: a run that proves
nothing must not pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from harness.metrics.histogram import mean_of_counts
from harness.report.model import ScenarioFigures
from harness.scenario.models import Expectations, Scenario

LATENCY_KEYS = {
    f"{name}_{level}_ms": (name, level)
    for name in ("first_reply", "complete_reply")
    for level in ("p50", "p95", "p99")
}

JUDGING_KEYS = {
    "success_rate_min": "success_rate",
    "goals_achieved_rate_min": "goals_achieved_rate",
    "evaluation_pass_rate_min": "evaluation_pass_rate",
}


@dataclass(frozen=True)
class SloResult:
    scenario: str
    key: str
    limit: float
    measured: float | None

    @property
    def is_floor(self) -> bool:
        """A ``_min`` objective: the figure must reach the limit, not stay under it."""
        return self.key.endswith("_min")

    @property
    def passed(self) -> bool:
        if self.measured is None:
            return False
        return self.measured >= self.limit if self.is_floor else self.measured <= self.limit

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        shown = "no data" if self.measured is None else _format(self.key, self.measured)
        limit = _format(self.key, self.limit)
        bound = "at least" if self.is_floor else "limit"
        return f"{verdict}  {self.scenario}: {self.key} = {shown} ({bound} {limit})"

    def to_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "key": self.key,
            "limit": self.limit,
            "measured": self.measured,
            "passed": self.passed,
        }


def parse_override(pair: str) -> tuple[str, float]:
    """``"first_reply_p95_ms=3000"`` -> ``("first_reply_p95_ms", 3000.0)``, validated.

    Raises ValueError naming the bad pair and the keys that exist.
    """
    key, sep, value = pair.partition("=")
    key = key.strip()
    if not sep or key not in Expectations.model_fields:
        known = ", ".join(Expectations.model_fields)
        raise ValueError(f"{pair!r}: write KEY=VALUE with KEY one of {known}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{pair!r}: {value!r} is not a number") from None
    try:
        Expectations.model_validate({key: number})
    except ValidationError as exc:
        raise ValueError(f"{pair!r}: {exc.errors()[0]['msg']}") from None
    return key, number


TOTALS = "all scenarios"


def evaluate(
    measured: Mapping[str, ScenarioFigures],
    scenarios: Mapping[str, Scenario],
    overrides: Mapping[str, float],
    totals: ScenarioFigures | None = None,
    over_totals: Mapping[str, float] | None = None,
) -> list[SloResult]:
    """Every objective of every scenario that ran (``measured``, by name), in a stable
    order; then those over the whole run (``over_totals``, measured on ``totals``)."""
    results: list[SloResult] = []
    for name, figures in measured.items():
        scenario = scenarios.get(name)
        declared = scenario.expect.model_dump(exclude_none=True) if scenario else {}
        for key, limit in {**declared, **overrides}.items():
            if key in JUDGING_KEYS and figures.judging is None and key not in declared:
                continue  # --expect's judging floors hold for the judged scenarios only
            results.append(SloResult(name, key, float(limit), _measure(key, figures)))
    if totals is not None:
        for key, limit in (over_totals or {}).items():
            results.append(SloResult(TOTALS, key, float(limit), _measure(key, totals)))
    return results


def _measure(key: str, figures: ScenarioFigures) -> float | None:
    if key in LATENCY_KEYS:
        name, level = LATENCY_KEYS[key]
        return getattr(figures.latency_ms[name], level)
    if key == "premature_reply_rate_max":
        return figures.premature_reply_rate
    if key == "timeout_rate_max":
        return figures.timeout_rate
    if key == "reply_groups_per_burst_max":
        return mean_of_counts(figures.reply_groups_per_burst)
    if key in JUDGING_KEYS:
        judging = figures.judging
        return None if judging is None else getattr(judging, JUDGING_KEYS[key])
    raise KeyError(key)


def _format(key: str, value: float) -> str:
    if key.endswith("_ms"):
        return f"{value:,.0f} ms"
    if "rate" in key:
        return f"{value:.2%}"
    return f"{value:.2f}"
