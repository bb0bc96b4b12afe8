"""Mergeable histograms: counts per bucket, so workers' histograms add up exactly.

Latencies are bucketed to three significant digits (at most 0.5 % off, 0.1 ms under
100 ms); small integer counts (reply groups, messages per reply) are kept exact.
Percentiles are read from the merged counts, never averaged across processes.
A histogram that will rarely change again can be packed into two arrays (see ``pack``).
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable


def bucket_3sig(value: float) -> float:
    """``value`` rounded to three significant digits: the latency bucket it falls in."""
    if value <= 0:
        return 0.0
    return round(value, 2 - math.floor(math.log10(value)))


class Histogram:
    """Counts of values, exact keys or three-significant-digit buckets."""

    __slots__ = ("_counts", "_packed", "exact", "max")

    def __init__(self, exact: bool = False) -> None:
        self.exact = exact
        self._counts: Counter[float] = Counter()
        self._packed: tuple[array, array] | None = None
        self.max: float | None = None

    def add(self, value: float) -> None:
        self._live()[value if self.exact else bucket_3sig(value)] += 1
        if self.max is None or value > self.max:
            self.max = value

    def pack(self) -> None:
        """Keep the counts in two arrays (bucket, count) instead of a dict: 16 bytes a
        bucket instead of about 54. For histograms that will rarely change again and of
        which a long run holds many (the closed windows of the load timeline); reading
        one leaves it packed, adding to or merging into one unpacks it."""
        if self._packed is None:
            buckets = sorted(self._counts)
            self._packed = (array("d", buckets), array("Q", map(self._counts.__getitem__, buckets)))
            self._counts = Counter()

    def _live(self) -> Counter[float]:
        """The counts, to change: a packed histogram unpacks first."""
        if self._packed is not None:
            self._counts = Counter(self._mapping())
            self._packed = None
        return self._counts

    def _buckets(self) -> Iterable[tuple[float, int]]:
        """(bucket, count) in bucket order, read without unpacking."""
        if self._packed is not None:
            return zip(*self._packed, strict=True)
        return sorted(self._counts.items())

    def _mapping(self) -> dict[float, int]:
        """The counts by bucket, in any order, read without unpacking."""
        if self._packed is not None:
            return dict(zip(*self._packed, strict=True))
        return self._counts

    @property
    def count(self) -> int:
        return sum(self._packed[1] if self._packed is not None else self._counts.values())

    def percentile(self, fraction: float) -> float | None:
        """The smallest bucket at or below which ``fraction`` of the values fall."""
        total = self.count
        if not total:
            return None
        rank = max(1, math.ceil(fraction * total))
        seen = 0
        for key, n in self._buckets():
            seen += n
            if seen >= rank:
                return key
        return self.max

    def merge(self, other: Histogram) -> None:
        self._live().update(other._mapping())
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max

    def counts(self) -> dict[str, int]:
        """The raw counts, JSON-ready (keys as strings), for exact merging elsewhere."""
        return {_key_text(key): n for key, n in self._buckets()}

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
