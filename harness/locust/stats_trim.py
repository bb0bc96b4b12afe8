"""What Locust's statistics keep for the whole run, held to a bound on long runs.

Locust keeps, for every row of its statistics, a count of requests and of failures per
second of the run, forever: it reads only the last dozen seconds (the current rate), but
the dictionaries grow by one key a row a second, some 20 MB an hour for chatstorm's
sixty-odd rows. Seconds older than a minute are forgotten.

It also keeps a point of its charts (percentiles, rate, users: about 1 KB) every five
seconds, which its web UI and HTML report draw: 0.7 MB an hour, 17 MB a day. Past
``HISTORY_POINTS`` points every other one is dropped, so the charts still span the
whole run, at half the resolution each time the bound is reached again."""

from __future__ import annotations

from locust.stats import RequestStats, StatsEntry

KEEP_S = 60
"""Well past the window Locust's current rate is read over (12 s)."""
HISTORY_POINTS = 720
"""An hour of chart points at Locust's five seconds."""


def forget_old_seconds(stats: RequestStats, now: float) -> None:
    cutoff = int(now) - KEEP_S
    entries: list[StatsEntry] = [stats.total, *stats.entries.values()]
    for entry in entries:
        for per_second in (entry.num_reqs_per_sec, entry.num_fail_per_sec):
            for second in [second for second in per_second if second < cutoff]:
                del per_second[second]


def thin_history(stats: RequestStats) -> None:
    """Past ``HISTORY_POINTS``, keep every other chart point, counted back from the newest
    (the charts end where the run is)."""
    if len(stats.history) > HISTORY_POINTS:
        stats.history[:] = stats.history[::-2][::-1]
