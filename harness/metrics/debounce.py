"""The agent's debounce window, estimated from outside.

A debouncing agent waits for a pause longer than its window D, then answers what it has.
Seen from outside, a pause either triggered an answer or did not; the largest pause that
triggered nothing and the smallest that triggered an answer bracket D.

Let F be the agent's typical reaction time to a finished burst (the median over the
sampled bursts), and its spread three median absolute deviations of those times.

- A pause longer than F + spread is longer than D, and its answer is due inside it: it
  triggered an answer when an agent message arrived during it (DESIGN's interval rule).
- A shorter pause's answer lands after the user's next message, maybe after the burst.
  So each reply (a run of agent messages closed by ``quiet_window`` of silence) is
  matched to the message whose answer was due nearest, at s_i + F. A reply that
  arrived before the burst's last message answers one of the messages already sent. A
  reply after it is the regular answer, unless it came too early for that: nearer an
  earlier message's due time by more than the spread.

A short pause counts as untriggered only when no reply began within the spread of its
due time; when one did but was nearer the regular answer, the pause is left out as
unclear rather than guessed. So the bracket comes from clear evidence only, and it
holds while the agent's reaction time varies by less than the short pauses that
trigger it. It uses a sample of bursts (the first ``SAMPLE_LIMIT`` of a scenario),
kept flat (``DebounceSamples``), so memory stays small and bounded on long runs. The
totals take a fair share of every scenario's sample (``fair_quotas``): one fast
scenario does not crowd the others' evidence out.
"""

from __future__ import annotations

import itertools
import statistics
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from typing import overload

from harness.metrics.burst import DebounceEvidence

SAMPLE_LIMIT = 2000


class DebounceSamples(Sequence[DebounceEvidence]):
    """A scenario's debounce evidence, kept flat: the times of every sample in one array
    of doubles, its three lengths in another. As objects (a dataclass, three tuples, a
    float object per time) a sample takes about 500 bytes; here about 85, so a run's
    samples (2,000 for each scenario, and a run may have a hundred) stay a few
    megabytes. Reading a sample builds its ``DebounceEvidence`` again, equal to the one
    appended."""

    __slots__ = ("_offsets", "_shapes", "_times")

    def __init__(self, samples: Iterable[DebounceEvidence] = ()) -> None:
        self._times = array("d")
        self._shapes = array("I")
        self._offsets = array("Q")
        self.extend(samples)

    def append(self, sample: DebounceEvidence) -> None:
        self._append(sample.sends, sample.arrivals, sample.reply_starts, sample.reaction)

    def extend(self, samples: Iterable[DebounceEvidence]) -> None:
        for sample in samples:
            self.append(sample)

    def extend_from(self, other: DebounceSamples, count: int) -> None:
        """Append ``other``'s first ``count`` samples, array to array: merging figures
        (every worker report on a master) builds no sample objects."""
        for index in range(min(count, len(other))):
            self._append(*other._parts(index))

    @classmethod
    def fair_share(
        cls, groups: Sequence[DebounceSamples], limit: int = SAMPLE_LIMIT
    ) -> DebounceSamples:
        """At most ``limit`` samples, a fair share of every group's (``fair_quotas``):
        one fast scenario does not crowd the others' evidence out of the totals."""
        shared = cls()
        quotas = fair_quotas([len(group) for group in groups], limit)
        for group, quota in zip(groups, quotas, strict=True):
            shared.extend_from(group, quota)
        return shared

    def to_state(self) -> list[list]:
        """The wire form, a row ``[sends, arrivals, reply_starts, reaction]`` a sample:
        read from the arrays, without building the samples."""
        return [
            [sends.tolist(), arrivals.tolist(), starts.tolist(), reaction]
            for sends, arrivals, starts, reaction in map(self._parts, range(len(self)))
        ]

    @classmethod
    def from_state(cls, rows: Iterable[Sequence]) -> DebounceSamples:
        samples = cls()
        for sends, arrivals, starts, reaction in rows:
            samples._append(sends, arrivals, starts, reaction)
        return samples

    def _append(
        self,
        sends: Sequence[float],
        arrivals: Sequence[float],
        starts: Sequence[float],
        reaction: float,
    ) -> None:
        self._offsets.append(len(self._times))
        self._shapes.extend((len(sends), len(arrivals), len(starts)))
        for times in (sends, arrivals, starts):
            self._times.extend(times)
        self._times.append(reaction)

    def _parts(self, index: int) -> tuple[array, array, array, float]:
        """Sample ``index``'s sends, arrivals and reply starts (as arrays) and reaction."""
        sends, arrivals, starts = self._shapes[3 * index : 3 * index + 3]
        times, first = self._times, self._offsets[index]
        second = first + sends
        third = second + arrivals
        last = third + starts
        return times[first:second], times[second:third], times[third:last], times[last]

    def __len__(self) -> int:
        return len(self._offsets)

    @overload
    def __getitem__(self, index: int) -> DebounceEvidence: ...
    @overload
    def __getitem__(self, index: slice) -> list[DebounceEvidence]: ...
    def __getitem__(self, index: int | slice) -> DebounceEvidence | list[DebounceEvidence]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("debounce sample index out of range")
        sends, arrivals, starts, reaction = self._parts(index)
        return DebounceEvidence(tuple(sends), tuple(arrivals), tuple(starts), reaction)


def fair_quotas(sizes: Sequence[int], limit: int = SAMPLE_LIMIT) -> list[int]:
    """How many samples to take from each group, at most ``limit`` in all: each group
    gives an equal share, and what a small group cannot fill goes to the others.
    Deterministic, so a master and its workers, given the same per-scenario samples,
    sample alike."""
    quotas = [0] * len(sizes)
    left = limit
    open_groups = [index for index, size in enumerate(sizes) if size]
    while left and open_groups:
        share = max(left // len(open_groups), 1)
        for index in list(open_groups):
            take = min(share, sizes[index] - quotas[index], left)
            quotas[index] += take
            left -= take
            if quotas[index] == sizes[index]:
                open_groups.remove(index)
            if not left:
                break
    return quotas


def estimate_debounce(samples: Sequence[DebounceEvidence]) -> tuple[float | None, float | None]:
    """(largest pause without an answer, smallest pause with one), in seconds."""
    if not samples:
        return None, None
    samples = list(samples)  # built once: a DebounceSamples builds each sample it is read
    reactions = [sample.reaction for sample in samples]
    typical = statistics.median(reactions)
    spread = 3 * statistics.median(abs(r - typical) for r in reactions)
    largest_without: float | None = None
    smallest_with: float | None = None
    for sample in samples:
        triggered, unclear = _classify_pauses(sample, typical, spread)
        for index, (a, b) in enumerate(itertools.pairwise(sample.sends)):
            pause = b - a
            if index in triggered:
                smallest_with = pause if smallest_with is None else min(smallest_with, pause)
            elif index not in unclear:
                largest_without = pause if largest_without is None else max(largest_without, pause)
    return largest_without, smallest_with


def _classify_pauses(
    sample: DebounceEvidence, typical: float, spread: float
) -> tuple[set[int], set[int]]:
    """(pauses that triggered an answer, pauses that cannot be told), by index."""
    sends, arrivals, starts = sample.sends, sample.arrivals, sample.reply_starts
    last = len(sends) - 1
    long_pauses = {
        index for index, (a, b) in enumerate(itertools.pairwise(sends)) if b - a > typical + spread
    }
    triggered = {
        index
        for index in long_pauses
        if bisect_left(arrivals, sends[index + 1]) > bisect_left(arrivals, sends[index])
    }
    for start in starts:
        sent_before = bisect_right(sends, start)
        if sent_before <= last:  # premature: it answers one of the messages already sent
            triggered.add(_nearest_due(sends[:sent_before], start, typical))
            continue
        candidate = _nearest_due(sends, start, typical)
        regular = abs(start - (sends[last] + typical))
        if candidate != last and regular - abs(start - (sends[candidate] + typical)) > spread:
            triggered.add(candidate)
    triggered.discard(last)
    unclear = {
        index
        for index in range(last)
        if index not in triggered
        and index not in long_pauses
        and any(abs(start - (sends[index] + typical)) <= spread for start in starts)
    }
    return triggered, unclear


def _nearest_due(sends: Sequence[float], start: float, typical: float) -> int:
    return min(range(len(sends)), key=lambda i: abs(start - (sends[i] + typical)))
