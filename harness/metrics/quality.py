"""Quality under load: the figures that degrade, per window of time and per band of users.

Every completed burst is counted in the wall-clock window it ended in (10 s wide, wider
on long runs: see below). The process that knows how many users the whole fleet runs (a
master, or a single process) notes the most users it saw in each window. The report then
shows a timeline (users, latency, premature and timeout rates per window) and the same
figures merged per band of concurrent users, so a ramp shows where the agent starts to
degrade.
Windows are counts and buckets, so workers' windows merge exactly on the master.

A run of hours must not grow with its length, so the timeline keeps at most
``MAX_WINDOWS`` windows: when one more would open, neighbouring windows merge in pairs
and windows are twice as wide from then on (10 s, 20 s, 40 s...). Window edges are
multiples of the width in wall-clock time, so a narrower window falls inside exactly one
wider window, and timelines of different widths (a worker's delta, the master's whole
run) still merge exactly, at the wider width. The windows a widening merged away are
cleared and opened again next, and their latency histograms' arrays go to spares that
every window's histograms draw from (``Histogram.spares``): the timeline holds the most
arrays its windows needed at once, whatever rare decades each window ever saw.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass, field, fields

from harness.metrics.burst import BurstMeasurement
from harness.metrics.histogram import Histogram
from harness.verdicts import Judgment

WINDOW_S = 10
"""The narrowest window, and the width of every window of a run up to ``MAX_WINDOWS``
windows long."""
MAX_WINDOWS = 60
"""Enough points for the report's charts; an hour's run has windows of 80 s."""
BANDS = 5


@dataclass
class QualityWindow:
    bursts: int = 0
    premature_bursts: int = 0
    timeouts: int = 0
    first_reply: Histogram = field(default_factory=Histogram)
    complete_reply: Histogram = field(default_factory=Histogram)
    judged: int = 0
    successes: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    @classmethod
    def sharing(cls, spares: list[array]) -> QualityWindow:
        """A window whose histograms take their arrays from ``spares`` and give them back
        when cleared (``Histogram.spares``)."""
        return cls(
            first_reply=Histogram(spares=spares),
            complete_reply=Histogram(spares=spares),
        )

    def clear(self) -> None:
        """No figures, keeping the histograms' memory (``Histogram.clear``)."""
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, int):
                setattr(self, item.name, 0)
            else:
                value.clear()

    def add_judgment(self, judgment: Judgment) -> None:
        """A judged conversation that ended in this window: what the agent said, under
        this load."""
        self.judged += 1
        self.successes += judgment.success
        self.outcomes[judgment.outcome] += 1

    def add_burst(self, burst: BurstMeasurement) -> None:
        self.bursts += 1
        self.premature_bursts += burst.premature
        self.timeouts += burst.timed_out
        if burst.first_reply_ms is not None:
            self.first_reply.add(burst.first_reply_ms)
        if burst.complete_reply_ms is not None:
            self.complete_reply.add(burst.complete_reply_ms)

    def merge(self, other: QualityWindow) -> None:
        self.bursts += other.bursts
        self.premature_bursts += other.premature_bursts
        self.timeouts += other.timeouts
        self.first_reply.merge(other.first_reply)
        self.complete_reply.merge(other.complete_reply)
        self.judged += other.judged
        self.successes += other.successes
        self.outcomes.update(other.outcomes)

    def to_state(self) -> dict:
        return {
            "bursts": self.bursts,
            "premature_bursts": self.premature_bursts,
            "timeouts": self.timeouts,
            "first_reply": self.first_reply.to_state(),
            "complete_reply": self.complete_reply.to_state(),
            "judged": self.judged,
            "successes": self.successes,
            "outcomes": dict(self.outcomes),
        }

    @classmethod
    def from_state(cls, state: dict) -> QualityWindow:
        return cls(
            state["bursts"],
            state["premature_bursts"],
            state["timeouts"],
            Histogram.from_state(state["first_reply"]),
            Histogram.from_state(state["complete_reply"]),
            state["judged"],
            state["successes"],
            Counter(state["outcomes"]),
        )

    def summary(self) -> dict:
        def levels(histogram: Histogram) -> dict:
            return {f"p{q}": histogram.percentile(q / 100) for q in (50, 95, 99)}

        return {
            "bursts": self.bursts,
            "first_reply_ms": levels(self.first_reply),
            "complete_reply_ms": levels(self.complete_reply),
            "premature_reply_rate": self.premature_bursts / self.bursts if self.bursts else None,
            "timeout_rate": self.timeouts / self.bursts if self.bursts else None,
            "judged": self.judged,
            "success_rate": self.successes / self.judged if self.judged else None,
            "outcomes": dict(sorted(self.outcomes.items())),
        }


class QualityTimeline:
    """Windows of figures keyed by wall-clock window, and the users seen in each."""

    def __init__(self) -> None:
        self.window_s = WINDOW_S
        self.windows: dict[int, QualityWindow] = {}
        self.users: dict[int, int] = {}
        self._emptied: list[QualityWindow] = []
        """Windows a widening merged into their neighbours, cleared, for the windows that
        open next: the timeline's memory stays what its first ``MAX_WINDOWS`` windows
        took, where freeing half of it at each widening and making it again over the next
        minutes showed as resident memory growing for the whole 30-minute soak."""
        self._spares: list[array] = []
        """Its windows' histograms' arrays not in use (``Histogram.spares``)."""

    def window_of(self, wall_time: float) -> int:
        return int(wall_time // self.window_s)

    def add_burst(self, wall_time: float, burst: BurstMeasurement) -> None:
        self._window(wall_time).add_burst(burst)

    def add_judgment(self, wall_time: float, judgment: Judgment) -> None:
        self._window(wall_time).add_judgment(judgment)

    def note_users(self, wall_time: float, users: int) -> None:
        self._make_room(wall_time)
        self._note_users(self.window_of(wall_time), users)

    def _note_users(self, key: int, users: int) -> None:
        """A window's users: the most seen in it."""
        self.users[key] = max(users, self.users.get(key, 0))

    def _window(self, wall_time: float) -> QualityWindow:
        """The window of ``wall_time``, to fill (opened if new)."""
        self._make_room(wall_time)
        return self._open(self.window_of(wall_time))

    def _open(self, key: int, window: QualityWindow | None = None) -> QualityWindow:
        """Window ``key`` (opened if new, an emptied one if any), with ``window``'s
        figures added."""
        existing = self.windows.get(key)
        if existing is None:
            existing = self.windows[key] = (
                self._emptied.pop() if self._emptied else QualityWindow.sharing(self._spares)
            )
        if window is not None:
            existing.merge(window)
        return existing

    def _make_room(self, wall_time: float) -> None:
        """Widen the windows until ``wall_time``'s window is kept or fits the bound."""
        while True:
            key = self.window_of(wall_time)
            if key in self.windows or key in self.users or self._kept() < MAX_WINDOWS:
                return
            self._widen_to(self.window_s * 2)

    def _kept(self) -> int:
        """Windows kept: with bursts, with a user sample, or both."""
        return len(self.windows.keys() | self.users.keys())

    def _widen_to(self, window_s: int) -> None:
        """Merge the windows into windows ``window_s`` wide (a power of two times as
        wide): each falls inside exactly one."""
        factor = window_s // self.window_s
        self.window_s = window_s
        windows, self.windows = self.windows, {}
        users, self.users = self.users, {}
        for key, window in windows.items():
            wider = self.windows.setdefault(key // factor, window)
            if wider is not window:
                wider.merge(window)
                window.clear()
                self._emptied.append(window)
        for key, count in users.items():
            self._note_users(key // factor, count)

    def to_state(self) -> dict:
        return {
            "window_s": self.window_s,
            "windows": {str(key): window.to_state() for key, window in self.windows.items()},
        }

    def merge_state(self, state: dict) -> None:
        """Add another process's windows, at the wider of the two widths."""
        if state["window_s"] > self.window_s:
            self._widen_to(state["window_s"])
        for key, window_state in state["windows"].items():
            starts = int(key) * state["window_s"]
            self._make_room(starts)  # first, so that a widening's emptied windows take it in
            self._open(self.window_of(starts), QualityWindow.from_state(window_state))

    def to_report(self, started_wall: float) -> dict:
        """``timeline`` (one row per window) and ``bands`` (rows merged by users)."""
        first = self.window_of(started_wall)
        timeline = [
            {"t_s": (key - first) * self.window_s, "users": self.users.get(key), **window.summary()}
            for key, window in sorted(self.windows.items())
        ]
        peak = max(self.users.values(), default=0)
        width = max(1, math.ceil(peak / BANDS))
        bands: dict[int, QualityWindow] = {}
        samples = sorted(self.users.items())
        for key, window in self.windows.items():
            users = _users_at(samples, key)
            if users is None:
                continue
            band = bands.setdefault(min(users // width, BANDS - 1), QualityWindow())
            band.merge(window)
        band_rows = [
            {
                "users": f"{index * width}-{(index + 1) * width - 1}"
                if index < BANDS - 1
                else f"{index * width}-{peak}",
                **band.summary(),
            }
            for index, band in sorted(bands.items())
        ]
        return {"window_s": self.window_s, "timeline": timeline, "bands": band_rows}


def _users_at(samples: list[tuple[int, int]], key: int) -> int | None:
    """The users of window ``key``: its own sample, else the latest one before it (a
    burst filed just past a window's edge, before that window's first sample, still
    counts in a band), else the first one after it."""
    before = [users for sampled, users in samples if sampled <= key]
    if before:
        return before[-1]
    return samples[0][1] if samples else None
