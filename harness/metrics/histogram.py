"""Mergeable histograms: counts per bucket, so workers' histograms add up exactly.

Latencies are bucketed to three significant digits (at most 0.5 % off, 0.1 ms under
100 ms); small integer counts (reply groups, messages per reply) are kept exact.
Percentiles are read from the merged counts, never averaged across processes.
"""

from __future__ import annotations

import math
from collections import Counter


def bucket_3sig(value: float) -> float:
    """``value`` rounded to three significant digits: the latency bucket it falls in."""
    if value <= 0:
        return 0.0
    return round(value, 2 - math.floor(math.log10(value)))


class Histogram:
    """Counts of values, exact keys or three-significant-digit buckets."""

    __slots__ = ("_counts", "exact", "max")

    def __init__(self, exact: bool = False) -> None:
        self.exact = exact
        self._counts: Counter[float] = Counter()
        self.max: float | None = None

    def add(self, value: float) -> None:
        self._counts[value if self.exact else bucket_3sig(value)] += 1
        if self.max is None or value > self.max:
            self.max = value

    @property
    def count(self) -> int:
        return sum(self._counts.values())

    def percentile(self, fraction: float) -> float | None:
        """The smallest bucket at or below which ``fraction`` of the values fall."""
        total = self.count
        if not total:
            return None
        rank = max(1, math.ceil(fraction * total))
        seen = 0
        for key in sorted(self._counts):
            seen += self._counts[key]
            if seen >= rank:
                return key
        return self.max

    def merge(self, other: Histogram) -> None:
        self._counts.update(other._counts)
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max

    def counts(self) -> dict[str, int]:
        """The raw counts, JSON-ready (keys as strings), for exact merging elsewhere."""
        return {_key_text(key): n for key, n in sorted(self._counts.items())}

    def to_state(self) -> dict:
        """Everything needed to rebuild it exactly elsewhere (msgpack- and JSON-safe)."""
        return {"exact": self.exact, "counts": self.counts(), "max": self.max}

    @classmethod
    def from_state(cls, state: dict) -> Histogram:
        histogram = cls(state["exact"])
        histogram._counts.update({float(key): n for key, n in state["counts"].items()})
        histogram.max = state["max"]
        return histogram

    def summary(self) -> dict[str, float | int | None]:
        """count, p50, p95, p99, max: what the report shows for a latency."""
        return {
            "count": self.count,
            "p50": self.percentile(0.50),
            "p95": self.percentile(0.95),
            "p99": self.percentile(0.99),
            "max": self.max,
        }


def _key_text(key: float) -> str:
    return str(int(key)) if float(key).is_integer() else repr(key)


def mean_of_counts(counts: dict[str, int]) -> float | None:
    """The mean of an exact histogram in report form (``{"1": 40, "2": 3}``)."""
    total = sum(counts.values())
    return sum(int(key) * n for key, n in counts.items()) / total if total else None
