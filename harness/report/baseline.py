"""Comparing a run with an earlier one (``--baseline OLD/report.json``): per scenario, how
success, pass^k, the reply latencies, premature replies and cost changed, and whether
the change is a regression beyond its tolerance (``--fail-on-regression``: exit 3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from harness.options import non_negative_float
from harness.report.model import Report, ScenarioFigures


@dataclass(frozen=True)
class Figure:
    name: str
    read: Callable[[ScenarioFigures], float | None]
    higher_is_better: bool
    tolerance: float
    relative: bool
    """The tolerance is a share of the earlier value (latency, cost), not an amount."""


def _success(figures: ScenarioFigures) -> float | None:
    return figures.judging.success_rate if figures.judging is not None else None


def _pass_hat_last(figures: ScenarioFigures) -> float | None:
    values = figures.pass_hat_k or {}
    return values[max(values, key=int)] if values else None


FIGURES = (
    Figure("success_rate", _success, True, 0.05, False),
    Figure("pass_hat_k", _pass_hat_last, True, 0.10, False),
    Figure("first_reply_p95_ms", lambda f: f.latency_ms["first_reply"].p95, False, 0.20, True),
    Figure(
        "complete_reply_p95_ms", lambda f: f.latency_ms["complete_reply"].p95, False, 0.20, True
    ),
    Figure("premature_reply_rate", lambda f: f.premature_reply_rate, False, 0.05, False),
    Figure("cost_usd", lambda f: f.llm.cost_usd or None, False, 0.20, True),
)
TOLERANCES = {figure.name: figure.tolerance for figure in FIGURES}


@dataclass(frozen=True)
class Change:
    scenario: str
    figure: str
    before: float
    after: float
    regressed: bool

    @property
    def delta(self) -> float:
        return self.after - self.before

    def to_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "figure": self.figure,
            "before": self.before,
            "after": self.after,
            "regressed": self.regressed,
        }


def read_baseline(path: Path) -> Report:
    """An earlier run's report; ValueError naming the file and what is wrong with it."""
    try:
        return Report.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot read the baseline {path}: {exc.strerror or exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ValueError(
            f"{path} is not a chatstorm report.json ({where}: {first['msg']})"
        ) from None


def compare(before: Report, after: Report, tolerances: Mapping[str, float]) -> list[Change]:
    """Every figure both runs measured, per scenario both ran."""
    changes = []
    for name, now in after.scenarios.items():
        then = before.scenarios.get(name)
        if then is None:
            continue
        for figure in FIGURES:
            old, new = figure.read(then), figure.read(now)
            if old is None or new is None:
                continue
            allowed = tolerances.get(figure.name, figure.tolerance)
            if figure.relative:
                allowed *= abs(old)
            worse = old - new if figure.higher_is_better else new - old
            changes.append(Change(name, figure.name, old, new, worse > allowed))
    return changes


def parse_tolerance(text: str) -> tuple[str, float]:
    """``first_reply_p95_ms=0.1`` -> ("first_reply_p95_ms", 0.1); ValueError otherwise."""
    name, sep, value = text.partition("=")
    if not sep or name not in TOLERANCES:
        raise ValueError(
            f"{text!r}: write FIGURE=TOLERANCE with FIGURE one of {', '.join(TOLERANCES)}"
        )
    try:
        return name, non_negative_float(value)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
