"""Mergeable histograms: counts per bucket, so workers' histograms add up exactly.

Latencies are bucketed to three significant digits (at most 0.5 % off, 0.1 ms under
100 ms); small integer counts (reply groups, messages per reply) are kept exact.
Percentiles are read from the merged counts, never averaged across processes.

A run holds hundreds of histograms (five latencies a scenario, two a window of the load
timeline) whose buckets keep filling as rare values arrive, so the counts live in two
sorted arrays, 16 bytes a bucket, not in a dict (about 54 bytes a bucket: the entry and
a float object for its key). A soak of 2,000 users finds some 50,000 new buckets an
hour; as dicts they alone would grow the process by more than 1 % of its memory an
hour.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections import Counter

MERGE_IN_PLACE = 8
"""Merging a histogram with at most 1/8 of this one's buckets (a worker's report into
the master's run) inserts its buckets one by one; a larger one is merged through a
dict, which is quicker then."""


def bucket_3sig(value: float) -> float:
    """``value`` rounded to three significant digits: the latency bucket it falls in."""
    if value <= 0:
        return 0.0
    return round(value, 2 - math.floor(math.log10(value)))


class Histogram:
    """Counts of values, exact keys (integers) or three-significant-digit buckets."""

    __slots__ = ("_counts", "_keys", "exact", "max")

    def __init__(self, exact: bool = False) -> None:
        self.exact = exact
        self._keys = array("q" if exact else "d")
        """The buckets, in ascending order."""
        self._counts = array("Q")
        """The count of each bucket, at the same index."""
        self.max: float | None = None

    def add(self, value: float) -> None:
        self._add_count(value if self.exact else bucket_3sig(value), 1)
        if self.max is None or value > self.max:
            self.max = value

    def _add_count(self, key: float, n: int) -> None:
        keys = self._keys
        index = bisect_left(keys, key)
        if index < len(keys) and keys[index] == key:
            self._counts[index] += n
        else:
            keys.insert(index, key)
            self._counts.insert(index, n)

    def _set(self, counts: dict[float, int]) -> None:
        keys = sorted(counts)
        self._keys = array(self._keys.typecode, keys)
        self._counts = array("Q", map(counts.__getitem__, keys))

    @property
    def count(self) -> int:
        return sum(self._counts)

    def percentile(self, fraction: float) -> float | None:
        """The smallest bucket at or below which ``fraction`` of the values fall."""
        total = self.count
        if not total:
            return None
        rank = max(1, math.ceil(fraction * total))
        seen = 0
        for key, n in zip(self._keys, self._counts, strict=True):
            seen += n
            if seen >= rank:
                return key
        return self.max

    def merge(self, other: Histogram) -> None:
        if len(other._keys) * MERGE_IN_PLACE <= len(self._keys):
            for key, n in zip(other._keys, other._counts, strict=True):
                self._add_count(key, n)
        else:
            counts = Counter(dict(zip(self._keys, self._counts, strict=True)))
            counts.update(dict(zip(other._keys, other._counts, strict=True)))
            self._set(counts)
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max

    def counts(self) -> dict[str, int]:
        """The raw counts, JSON-ready (keys as strings), for exact merging elsewhere."""
        return {_key_text(key): n for key, n in zip(self._keys, self._counts, strict=True)}

    def to_state(self) -> dict:
        """Everything needed to rebuild it exactly elsewhere (msgpack- and JSON-safe)."""
        return {"exact": self.exact, "counts": self.counts(), "max": self.max}

    @classmethod
    def from_state(cls, state: dict) -> Histogram:
        histogram = cls(state["exact"])
        parse = int if histogram.exact else float
        histogram._set({parse(key): n for key, n in state["counts"].items()})
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
