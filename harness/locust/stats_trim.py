"""What Locust's statistics keep for the whole run, held to a bound on long runs.

Locust keeps, for every row of its statistics, a count of requests and of failures per
second of the run, forever: it reads only the last dozen seconds (the current rate), but
the dictionaries grow by one key a row a second, some 20 MB an hour for chatstorm's
sixty-odd rows. Seconds older than a minute are forgotten.

It also keeps a point of its charts (percentiles, rate, users: about 970 bytes) every
five seconds, which its web UI and HTML report draw: 0.7 MB an hour, 17 MB a day. Each
point is held in less memory (``compact``: 740 bytes), and the charts keep
``HISTORY_POINTS`` points (and the minute's new ones, between two thinnings), evenly
spaced over the whole run: past the bound, every other point goes and the
spacing doubles (10 s after 20 minutes, 80 s after 160), and Locust's new points are
kept at that spacing from then on. Spacing is counted in Locust's points, not read from their
times: an HTML report opened mid-run adds one, a few seconds off the beat.

And every second it copies each row's response-time counts, keeping twenty copies, to
read the row's percentiles over the last ten seconds. Only the total's are read (its
charts), unless ``--csv-full-history`` writes every row's: the other rows' copies go. In
the soak they held 61,000 to 65,000 counts between its 10th and 30th minutes, growing
with every new rounded response time; the total's copies hold 5,700."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from locust.stats import RequestStats, StatsEntry

KEEP_S = 60
"""Well past the window Locust's current rate is read over (12 s)."""
HISTORY_POINTS = 240
"""20 minutes of chart points at Locust's five seconds; a chart of a day has 135 to 240,
5 to 11 minutes apart. 720 (an hour) held 530 KB, which a long run's resident memory
showed as 0.5 MB an hour of growth for its whole first hour; 240 hold 180 KB."""


def forget_old_seconds(stats: RequestStats, now: float) -> None:
    cutoff = int(now) - KEEP_S
    entries: list[StatsEntry] = [stats.total, *stats.entries.values()]
    for entry in entries:
        for per_second in (entry.num_reqs_per_sec, entry.num_fail_per_sec):
            for second in [second for second in per_second if second < cutoff]:
                del per_second[second]


def stop_row_copies(stats: RequestStats) -> None:
    """Every row but the total stops copying its response-time counts each second (the
    rows made since the last call included)."""
    for entry in stats.entries.values():
        if entry.use_response_times_cache:
            entry.use_response_times_cache = False
            entry.response_times_cache = None


def compact(point: dict) -> dict:
    """A chart point as Locust reads and serves it, in less memory: its keys are the
    strings every point shares (Locust writes them afresh each time) and its
    ``[time, value]`` pairs are tuples, one allocation each where a list takes two."""
    return {
        sys.intern(key): tuple(value) if isinstance(value, list) else value
        for key, value in point.items()
    }


@dataclass
class ChartHistory:
    """Locust's chart points, held evenly spaced. The n-th point Locust added (from 0)
    is kept while n is a multiple of ``stride``; ``kept`` points at the head of the list
    have been through this already, the rest are new since the last call."""

    stride: int = 1
    kept: int = 0
    added: int = 0
    """Points Locust has added so far: the index of the first new one."""
    history: list[dict] = field(default_factory=list)
    """The list being held: Locust replaces it when its statistics are reset."""

    def thin(self, stats: RequestStats) -> None:
        if stats.history is not self.history:  # Locust's reset makes a new list
            self.stride, self.kept, self.added, self.history = 1, 0, 0, stats.history
        history = self.history
        new = history[self.kept :]
        history[self.kept :] = [
            compact(point) for n, point in enumerate(new, self.added) if n % self.stride == 0
        ]
        self.added += len(new)
        while len(history) > HISTORY_POINTS:
            history[:] = history[::2]
            self.stride *= 2
        self.kept = len(history)
