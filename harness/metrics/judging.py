"""What judged conversations came to, per scenario: success, outcomes, evaluations,
goals, blame, length, by personality. Counts and sums only, so processes merge exactly."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from harness.metrics.histogram import Histogram
from harness.verdicts import Judgment

VERDICTS = ("pass", "fail", "inconclusive", "error", "skipped")


@dataclass
class Spread:
    """min, p50, max, mean and standard deviation of a value, mergeable exactly: the sums
    are whole numbers of ``1 / unit`` (a duration's microseconds), so processes' figures
    add up the same in any order."""

    histogram: Histogram = field(default_factory=Histogram)
    unit: int = 1
    total: int = 0
    squares: int = 0
    min: float | None = None

    def add(self, value: float) -> None:
        self.histogram.add(value)
        whole = round(value * self.unit)
        self.total += whole
        self.squares += whole * whole
        self.min = value if self.min is None else min(self.min, value)

    def merge(self, other: Spread) -> None:
        self.histogram.merge(other.histogram)
        self.total += other.total
        self.squares += other.squares
        if other.min is not None:
            self.min = other.min if self.min is None else min(self.min, other.min)

    def to_state(self) -> dict:
        return {
            "histogram": self.histogram.to_state(),
            "unit": self.unit,
            "total": self.total,
            "squares": self.squares,
            "min": self.min,
        }

    @classmethod
    def from_state(cls, state: dict) -> Spread:
        histogram = Histogram.from_state(state["histogram"])
        return cls(histogram, state["unit"], state["total"], state["squares"], state["min"])

    def to_report(self) -> dict:
        n = self.histogram.count
        if not n:
            return {"min": None, "p50": None, "max": None, "mean": None, "stddev": None}
        variance = max(self.squares * n - self.total * self.total, 0) / (n * n)
        return {
            "min": self.min,
            "p50": self.histogram.percentile(0.5),
            "max": self.histogram.max,
            "mean": round(self.total / n / self.unit, 6),
            "stddev": round(math.sqrt(variance) / self.unit, 6),
        }


MICROSECONDS = 1_000_000


@dataclass
class PersonalityFigures:
    conversations: int = 0
    successes: int = 0
    turns: int = 0
    duration_us: int = 0

    def to_report(self) -> dict:
        n = self.conversations
        return {
            "conversations": n,
            "success_rate": self.successes / n if n else None,
            "mean_turns": round(self.turns / n, 6) if n else None,
            "mean_duration_s": round(self.duration_us / n / MICROSECONDS, 6) if n else None,
        }


@dataclass
class JudgingStats:
    conversations: int = 0
    successes: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    evaluations: dict[str, Counter[str]] = field(default_factory=dict)
    goals_achieved: int = 0
    goals_total: int = 0
    blame: Counter[str] = field(default_factory=Counter)
    turns: Spread = field(default_factory=lambda: Spread(Histogram(exact=True)))
    duration_s: Spread = field(default_factory=lambda: Spread(unit=MICROSECONDS))
    by_personality: dict[str, PersonalityFigures] = field(default_factory=dict)
    excluded: Counter[str] = field(default_factory=Counter)
    """Conversations with no verdict: cut off by the run's stop, or unjudged."""
    infrastructure: int = 0
    """Failures the network or the harness caused."""

    def add(self, judgment: Judgment, turns: int) -> None:
        if judgment.excluded != "cut_off":  # what was judged, or skipped, is told
            for result in judgment.evaluations:
                self.evaluations.setdefault(result.name, Counter())[result.verdict] += 1
        if judgment.excluded is not None:
            self.excluded[judgment.excluded] += 1
            return
        self.conversations += 1
        self.infrastructure += judgment.infrastructure
        self.successes += judgment.success
        self.outcomes[judgment.outcome] += 1
        self.goals_achieved += judgment.goals_achieved
        self.goals_total += judgment.goals_total
        if not judgment.success:
            self.blame[judgment.blame] += 1
        self.turns.add(turns)
        self.duration_s.add(judgment.duration_s)
        figures = self.by_personality.setdefault(judgment.personality, PersonalityFigures())
        figures.conversations += 1
        figures.successes += judgment.success
        figures.turns += turns
        figures.duration_us += round(judgment.duration_s * MICROSECONDS)

    def merge(self, other: JudgingStats) -> None:
        self.conversations += other.conversations
        self.successes += other.successes
        self.excluded.update(other.excluded)
        self.infrastructure += other.infrastructure
        self.outcomes.update(other.outcomes)
        for name, verdicts in other.evaluations.items():
            self.evaluations.setdefault(name, Counter()).update(verdicts)
        self.goals_achieved += other.goals_achieved
        self.goals_total += other.goals_total
        self.blame.update(other.blame)
        self.turns.merge(other.turns)
        self.duration_s.merge(other.duration_s)
        for name, theirs in other.by_personality.items():
            ours = self.by_personality.setdefault(name, PersonalityFigures())
            ours.conversations += theirs.conversations
            ours.successes += theirs.successes
            ours.turns += theirs.turns
            ours.duration_us += theirs.duration_us

    def to_state(self) -> dict:
        return {
            "conversations": self.conversations,
            "successes": self.successes,
            "outcomes": dict(self.outcomes),
            "evaluations": {name: dict(v) for name, v in self.evaluations.items()},
            "goals_achieved": self.goals_achieved,
            "goals_total": self.goals_total,
            "blame": dict(self.blame),
            "turns": self.turns.to_state(),
            "duration_s": self.duration_s.to_state(),
            "by_personality": {
                name: [f.conversations, f.successes, f.turns, f.duration_us]
                for name, f in self.by_personality.items()
            },
            "excluded": dict(self.excluded),
            "infrastructure": self.infrastructure,
        }

    @classmethod
    def from_state(cls, state: dict) -> JudgingStats:
        return cls(
            conversations=state["conversations"],
            successes=state["successes"],
            outcomes=Counter(state["outcomes"]),
            evaluations={name: Counter(v) for name, v in state["evaluations"].items()},
            goals_achieved=state["goals_achieved"],
            goals_total=state["goals_total"],
            blame=Counter(state["blame"]),
            turns=Spread.from_state(state["turns"]),
            duration_s=Spread.from_state(state["duration_s"]),
            by_personality={
                name: PersonalityFigures(*figures)
                for name, figures in state["by_personality"].items()
            },
            excluded=Counter(state["excluded"]),
            infrastructure=state["infrastructure"],
        )

    def to_report(self) -> dict | None:
        """The report's ``judging`` section; None when no conversation was judged."""
        if not self.conversations and not self.excluded:
            return None
        n = self.conversations
        failures = n - self.successes
        return {
            "conversations": n,
            "successes": self.successes,
            "success_rate": self.successes / n if n else None,
            "excluded": dict(sorted(self.excluded.items())),
            "infrastructure_failures": self.infrastructure,
            "outcomes": dict(sorted(self.outcomes.items())),
            "evaluations": {
                name: {
                    "passed": verdicts["pass"],
                    "failed": verdicts["fail"],
                    "inconclusive": verdicts["inconclusive"],
                    "errors": verdicts["error"],
                    "skipped": verdicts["skipped"],
                    "pass_rate": _pass_rate(verdicts),
                }
                for name, verdicts in sorted(self.evaluations.items())
            },
            "evaluation_pass_rate": _pass_rate(sum(self.evaluations.values(), Counter())),
            "goals_achieved": self.goals_achieved,
            "goals_total": self.goals_total,
            "goals_achieved_rate": (
                self.goals_achieved / self.goals_total if self.goals_total else None
            ),
            "blame": dict(sorted(self.blame.items())),
            "simulator_blame_rate": self.blame["simulator"] / failures if failures else None,
            "turns": self.turns.to_report(),
            "duration_s": self.duration_s.to_report(),
            "by_personality": {
                name: figures.to_report() for name, figures in sorted(self.by_personality.items())
            },
        }


PASS_HAT_K_MAX = 100


def pass_hat_k(runs: int, successes: int) -> dict[str, float]:
    """pass^k for k = 1..runs (at most ``PASS_HAT_K_MAX``): the chance that k independent
    tries all succeed, estimated from ``successes`` of ``runs`` as tau-bench does,
    C(successes, k) / C(runs, k)."""
    top = min(runs, PASS_HAT_K_MAX)
    return {
        str(k): round(math.comb(successes, k) / math.comb(runs, k), 6) for k in range(1, top + 1)
    }


def _pass_rate(verdicts: Counter[str]) -> float | None:
    """Passes among the evaluations that were judged (not skipped)."""
    judged = sum(verdicts[v] for v in VERDICTS if v != "skipped")
    return verdicts["pass"] / judged if judged else None
