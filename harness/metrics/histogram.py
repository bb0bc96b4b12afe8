"""Mergeable histograms: counts per bucket, so workers' histograms add up exactly.

Latencies are bucketed to three significant digits (at most 0.5 % off), under a
microsecond as zero (``SMALLEST``); small integer counts (reply groups, messages per
reply) are kept exact.
Percentiles are read from the merged counts, never averaged across processes.

A latency histogram counts per decade of values, in slots for its 900 three-digit
buckets (100 to 999 times a power of ten): the slots seen, in order, while they are few
(``Sparse``), then an array of all 900, as HdrHistogram keeps them. Its memory is then set
by the decades its values span, not by how many distinct values it has seen: a long run's
histograms stop growing in its first minutes, where a dict of buckets grew by some 90
bytes a new bucket for hours; and a scenario of a few conversations (a matrix has
hundreds) keeps a few slots, not 900 a decade. The array's counts take the fewest bytes
that hold them: 2 (1.8 KB a decade), 4 past 65,535 (as HdrHistogram's int counts) and 8
past 4,294,967,295. The load timeline alone held some 270 such arrays in the soak (and
every scenario's figures 90), and a long run keeps making them: a decade whose tail sees
its 128th slot in the 20th minute turns into an array then, and at 2 bytes a count that
costs what its sparse slots did.

A few slots take 10 bytes each (``Sparse``), where a dict took 60 to 100 (an int object
for a slot above 256, an entry, the table's spare room). Histograms that come and go, as
the load timeline's windows do (cleared when a widening merges them away, then filled
again), share their arrays (``spares``): a decade that turns into an array takes a spare
one, and a cleared histogram gives its arrays back. As their own arrays (from their first
value, or kept through every refill), the soak's timeline kept making arrays for its
whole 30 minutes, as each window came to hold a rare decade (a reply under a
millisecond) it had once seen.
"""

from __future__ import annotations

import functools
import math
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from copy import copy
from itertools import compress, pairwise

SLOTS = 900
"""Three-digit buckets in a decade: 100 to 999."""
DENSE_AT = 128
"""Slots seen in a decade at which it becomes an array of all 900: a ``Sparse`` decade's
1.5 KB (its buffers and objects) is then about the array's 1.8 KB in 2-byte counts, and
each new slot would cost a search and an insertion, where the array's costs nothing."""
WIDTHS = "HIQ"
"""A decade's array's counts, narrowest first: 2, 4 and 8 bytes."""
WIDER = dict(pairwise(WIDTHS))
"""Each width's next: an array widens to it when a count outgrows it."""
SMALLEST = 0.001
"""Values below this (a microsecond, for latencies in milliseconds) count as zero: no
clock here tells such a time from none, and every decade counted in costs the process its
buckets' floats and texts for good (about 165 KB, ``_decade``). Down to 1e-300, replies
that arrived with their message (100 ns after it, then 10 ns...) went on making decades
in a long run: two between the 6th and the 12th minute of a soak."""


class Sparse:
    """A decade's few counts: the slots seen, in order, and their counts (8 bytes each,
    which no count outgrows)."""

    __slots__ = ("counts", "slots")

    def __init__(self) -> None:
        self.slots = array("H")
        self.counts = array("Q")

    def add(self, slot: int, n: int) -> None:
        at = bisect_left(self.slots, slot)
        if at < len(self.slots) and self.slots[at] == slot:
            self.counts[at] += n
        else:
            self.slots.insert(at, slot)
            self.counts.insert(at, n)

    def clear(self) -> None:
        del self.slots[:], self.counts[:]

    def __copy__(self) -> Sparse:
        other = Sparse()
        other.slots, other.counts = self.slots[:], self.counts[:]
        return other


Slots = Sparse | array
"""A decade's counts: a few slots' while few, else an array of ``SLOTS`` counts."""


def bucket_3sig(value: float) -> float:
    """``value`` rounded to three significant digits: the latency bucket it falls in."""
    if value < SMALLEST:
        return 0.0
    return round(value, 2 - math.floor(math.log10(value)))


def _slot(bucket: float) -> tuple[int, int]:
    """A positive bucket's decade and slot: it is ``(slot + 100) * 10 ** (decade - 2)``."""
    decade = math.floor(math.log10(bucket))
    return decade, round(bucket / 10.0 ** (decade - 2)) - 100


_SLOT_OF_TEXT: dict[str, tuple[int, int]] = {}
"""A bucket's text, as ``counts`` writes it, -> its decade and slot, for every decade a
histogram has counted in: a master reads thousands of buckets a worker report."""


@functools.cache
def _decade(decade: int) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """A decade's buckets, slot by slot, each the very float ``bucket_3sig`` gives, and
    their texts: made once (a run's values span a few decades), so that reading and
    writing counts allocates nothing a bucket."""
    buckets = tuple(round((slot + 100) * 10.0 ** (decade - 2), 2 - decade) for slot in range(SLOTS))
    texts = tuple(map(_key_text, buckets))
    _SLOT_OF_TEXT.update((text, (decade, slot)) for slot, text in enumerate(texts))
    return buckets, texts


class Histogram:
    """Counts of values, exact keys or three-significant-digit buckets."""

    __slots__ = ("_counts", "_decades", "_zeros", "exact", "max", "spares")

    def __init__(self, exact: bool = False, spares: list[array] | None = None) -> None:
        self.exact = exact
        self.spares = spares
        """Zeroed arrays shared with other histograms (the load timeline's windows): a
        decade turning into an array takes one, ``clear`` gives the arrays back. Their
        arrays are then the most the histograms held at once, not every decade each one
        ever saw: with arrays of their own (1.8 KB a decade, from the first value), a
        window that once counted a rare decade kept its array through every refill, and
        the soak's timeline made such arrays for its whole 30 minutes (12 KB a minute)."""
        self._counts: Counter[float] = Counter()
        """An exact histogram's counts."""
        self._decades: dict[int, Slots] = {}
        """A latency histogram's counts, by decade."""
        self._zeros = 0
        """A latency histogram's values of zero or less (bucket 0)."""
        self.max: float | None = None

    def add(self, value: float) -> None:
        if self.exact:
            self._counts[value] += 1
        else:
            self._tally(bucket_3sig(value), 1)
        if self.max is None or value > self.max:
            self.max = value

    def _tally(self, bucket: float, n: int) -> None:
        if bucket < SMALLEST:
            self._zeros += n
        else:
            self._tally_slot(*_slot(bucket), n)

    def _tally_slot(self, decade: int, slot: int, n: int) -> None:
        counts = self._decades.get(decade)
        if counts is None:
            counts = self._decades[decade] = Sparse()
            _decade(decade)  # its buckets' texts are known from now on
        if isinstance(counts, Sparse):
            counts.add(slot, n)
            if len(counts.slots) >= DENSE_AT:
                self._decades[decade] = self._dense(counts)
            return
        try:
            counts[slot] += n
        except OverflowError:
            self._widen(decade, slot, n)

    def _dense(self, counts: Sparse) -> array:
        """A sparse decade as an array (a spare one, if any) whose counts hold its
        largest."""
        largest = max(counts.counts)
        dense = self.spares.pop() if self.spares else _ZEROS[WIDTHS[0]][:]
        while largest >= _LIMIT[dense.typecode]:
            dense = array(WIDER[dense.typecode], dense)
        for slot, n in _occupied(counts):
            dense[slot] = n
        return dense

    def _widen(self, decade: int, slot: int, n: int) -> array:
        """``decade``'s array in wider counts, with ``n`` added at ``slot``: that count
        outgrew its counts' bytes."""
        wide = self._decades[decade]
        while True:
            wide = self._decades[decade] = array(WIDER[wide.typecode], wide)
            try:
                wide[slot] += n
            except OverflowError:  # past the next width too (a merge's huge count)
                continue
            return wide

    def clear(self) -> None:
        """No values, keeping the decades' arrays (zeroed) to count in again, its own or
        (``spares``) any histogram's: a long run's timeline refills the windows it merged
        away, rather than freeing their memory and making it again a few minutes later."""
        self._counts.clear()
        self._zeros = 0
        self.max = None
        for counts in self._decades.values():
            if not isinstance(counts, Sparse):
                counts[:] = _ZEROS[counts.typecode]
                if self.spares is not None:
                    self.spares.append(counts)
            elif self.spares is None:  # kept: with spares, sparse decades are dropped
                counts.clear()
        if self.spares is not None:
            self._decades.clear()

    def _buckets(self, as_text: bool = False) -> Iterator[tuple[float | str, int]]:
        """(bucket, count) in bucket order, counts above zero only; the bucket as its text
        (``counts``' keys) with ``as_text``."""
        if self.exact:
            for key, n in sorted(self._counts.items()):
                yield (_key_text(key) if as_text else key), n
            return
        if self._zeros:
            yield ("0" if as_text else 0.0), self._zeros
        for decade, counts in sorted(self._decades.items()):
            names = _decade(decade)[as_text]
            for slot, n in _occupied(counts):
                yield names[slot], n

    @property
    def count(self) -> int:
        if self.exact:
            return sum(self._counts.values())
        return self._zeros + sum(map(_total, self._decades.values()))

    def percentile(self, fraction: float) -> float | None:
        """The smallest bucket at or below which ``fraction`` of the values fall."""
        total = self.count
        if not total:
            return None
        rank = max(1, math.ceil(fraction * total))
        seen = 0
        if self.exact:
            for key, n in self._buckets():
                seen += n
                if seen >= rank:
                    return key
            return self.max
        seen = self._zeros
        if seen >= rank:
            return 0.0
        for decade, counts in sorted(self._decades.items()):
            in_decade = _total(counts)
            if seen + in_decade >= rank:  # in this decade: no need to read the others
                for slot, n in _occupied(counts):
                    seen += n
                    if seen >= rank:
                        return _decade(decade)[0][slot]
            seen += in_decade
        return self.max

    def merge(self, other: Histogram) -> None:
        if self.exact:
            self._counts.update(other._counts)
        else:
            self._zeros += other._zeros
            for decade, theirs in other._decades.items():
                ours = self._decades.get(decade)
                if ours is None and self.spares is None:
                    self._decades[decade] = copy(theirs)
                elif ours is None or isinstance(ours, Sparse):  # may become an array
                    for slot, n in _occupied(theirs):
                        self._tally_slot(decade, slot, n)
                else:  # into an array, without _tally_slot's checks: a master's every report
                    for slot, n in _occupied(theirs):
                        try:
                            ours[slot] += n
                        except OverflowError:
                            ours = self._widen(decade, slot, n)
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max

    def counts(self) -> dict[str, int]:
        """The raw counts, JSON-ready (keys as strings), for exact merging elsewhere."""
        return dict(self._buckets(as_text=True))

    def to_state(self) -> dict:
        """Everything needed to rebuild it exactly elsewhere (msgpack- and JSON-safe)."""
        return {"exact": self.exact, "counts": self.counts(), "max": self.max}

    @classmethod
    def from_state(cls, state: dict) -> Histogram:
        histogram = cls(state["exact"])
        counts = state["counts"]
        if histogram.exact:
            histogram._counts.update({float(key): n for key, n in counts.items()})
        else:
            for key, n in counts.items():
                where = _SLOT_OF_TEXT.get(key)
                if where is None:  # zero, or a decade no histogram has counted in yet
                    histogram._tally(float(key), n)
                else:
                    histogram._tally_slot(*where, n)
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


_ZEROS = {typecode: array(typecode, [0]) * SLOTS for typecode in WIDTHS}
"""A decade's array of no counts, in 2-, 4- and 8-byte counts: copied to make or clear one."""
_LIMIT = {typecode: 1 << (8 * zeros.itemsize) for typecode, zeros in _ZEROS.items()}
"""The first count each width cannot hold."""


def _occupied(counts: Slots) -> Iterator[tuple[int, int]]:
    """A decade's slots that have a count, in order, with their counts."""
    if isinstance(counts, Sparse):
        return zip(counts.slots, counts.counts, strict=True)
    return zip(compress(range(SLOTS), counts), filter(None, counts), strict=True)


def _total(counts: Slots) -> int:
    return sum(counts.counts) if isinstance(counts, Sparse) else sum(counts)


def _key_text(key: float) -> str:
    return str(int(key)) if float(key).is_integer() else repr(key)


def mean_of_counts(counts: dict[str, int]) -> float | None:
    """The mean of an exact histogram in report form (``{"1": 40, "2": 3}``)."""
    total = sum(counts.values())
    return sum(int(key) * n for key, n in counts.items()) / total if total else None
