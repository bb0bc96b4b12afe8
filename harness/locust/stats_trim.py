"""Locust keeps, for every row of its statistics, a count of requests and of failures
per second of the run, forever: it reads only the last dozen seconds (the current
rate), but the dictionaries grow by one key a row a second, some 20 MB an hour for
chatstorm's sixty-odd rows. Seconds older than a minute are forgotten."""

from __future__ import annotations

from locust.stats import RequestStats, StatsEntry

KEEP_S = 60
"""Well past the window Locust's current rate is read over (12 s)."""


def forget_old_seconds(stats: RequestStats, now: float) -> None:
    cutoff = int(now) - KEEP_S
    entries: list[StatsEntry] = [stats.total, *stats.entries.values()]
    for entry in entries:
        for per_second in (entry.num_reqs_per_sec, entry.num_fail_per_sec):
            for second in [second for second in per_second if second < cutoff]:
                del per_second[second]
