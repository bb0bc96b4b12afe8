"""What chatstorm trims of Locust's run-long statistics: the bound holds, and what Locust
reads (its current rate, its charts' span) is what it would have read untrimmed.

Locust's real ``RequestStats``, in a subprocess: Locust stays out of the pytest process
(tests/conftest.py)."""

import json
import subprocess
import sys

from tests.support.locust_runs import REPO

SCRIPT = """
import json
from locust.stats import RequestStats
from harness.locust.stats_trim import HISTORY_POINTS, KEEP_S, ChartHistory, forget_old_seconds

NOW = 1_800_000_000
stats = RequestStats()
stats.total.start_time = NOW - 3600
stats.total.last_request_timestamp = NOW + 0.5
entry = stats.get("first reply", "chat")
for row in (stats.total, entry):
    row.num_reqs_per_sec.update({t: t % 7 + 1 for t in range(NOW - 3600, NOW + 1)})
    row.num_fail_per_sec.update({t: t % 3 for t in range(NOW - 3600, NOW + 1)})

def rates():
    return [entry.current_rps, entry.current_fail_per_sec, stats.total.current_rps]

before = rates()
forget_old_seconds(stats, NOW + 0.5)
after = rates()
seconds = [
    sorted(row.num_reqs_per_sec) + sorted(row.num_fail_per_sec) for row in (stats.total, entry)
]

charts = ChartHistory()
spacings = {}
for n in range(8 * HISTORY_POINTS):  # eight fills of Locust's points, 5 s apart
    stats.history.append({"time": 5 * n})
    if n % 12 == 11:  # chatstorm's minute
        charts.thin(stats)
        if (n + 1) % HISTORY_POINTS == 0 and (n + 1) // HISTORY_POINTS in (1, 2, 4, 8):
            times = [point["time"] for point in stats.history]
            spacings[(n + 1) // HISTORY_POINTS] = [len(times), times[0], times[-1], sorted({
                later - earlier for earlier, later in zip(times, times[1:])})]
replaced = stats.history
stats.reset_all()  # Locust's reset gives it a new list: held afresh
stats.history.extend({"time": t} for t in range(30))
charts.thin(stats)
after_reset = [len(replaced), [point["time"] for point in stats.history]]
print(json.dumps(dict(now=NOW, keep=KEEP_S, points=HISTORY_POINTS, before=before, after=after,
    seconds=seconds, spacings=spacings, after_reset=after_reset)))
"""


def test_what_locust_keeps_all_run_is_bounded_and_reads_the_same() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    now, keep, points = seen["now"], seen["keep"], seen["points"]

    assert seen["after"] == seen["before"]
    assert seen["before"][0] > 0 and seen["before"][1] > 0
    for row in seen["seconds"]:  # requests' seconds, then failures'
        assert row == [*range(now - keep, now + 1)] * 2

    # The charts span the run, evenly spaced (the spacing doubles with each fill), and end
    # within one spacing of the newest point.
    fills = {int(fill): figures for fill, figures in seen["spacings"].items()}
    assert fills == {k: [points, 0, 5 * k * (points - 1), [5 * k]] for k in (1, 2, 4, 8)}
    assert seen["after_reset"] == [points, list(range(30))]


COPIES_SCRIPT = """
import json
import locust.stats
from locust.stats import RequestStats
from harness.locust.stats_trim import stop_row_copies

class Clock:
    now = 1_800_000_000.0
    def time(self):
        return self.now

clock = locust.stats.time = Clock()
held, untouched = RequestStats(), RequestStats()

def second(n):
    clock.now = 1_800_000_000.0 + n
    for stats in (held, untouched):
        for row in range(12):
            for k in range(5):  # ever new response times: the copies grow with them
                ms = 100 + (n * 5 + k) % 4000 + row
                stats.log_request("first_reply", f"scenario {row}", ms, 0)

def copies(stats):
    return sum(
        sum(len(cached.response_times) for cached in (entry.response_times_cache or {}).values())
        for entry in stats.entries.values()
    )

for n in range(30):
    second(n)
stop_row_copies(held)  # chatstorm's minute
held.get("late row", "first_reply")  # a row made after the call: the next call stops it
held.log_request("first_reply", "late row", 250, 0)
untouched.log_request("first_reply", "late row", 250, 0)
for n in range(30, 90):
    second(n)
stop_row_copies(held)
before_reset = [copies(held), copies(untouched)]
held.reset_all()  # Locust's reset: the rows stay stopped
untouched.reset_all()
for n in range(90, 120):
    second(n)

def figures(stats):
    rows = [stats.total, *stats.entries.values()]
    return [
        stats.total.get_current_response_time_percentile(0.95),
        stats.total.get_current_response_time_percentile(0.5),
        [[row.get_response_time_percentile(q) for q in (0.5, 0.95, 0.99)] for row in rows],
        [row.num_requests for row in rows],
    ]

print(json.dumps(dict(
    copies=[before_reset, [copies(held), copies(untouched)]],
    total_copies=[len(held.total.response_times_cache), len(untouched.total.response_times_cache)],
    figures=[figures(held), figures(untouched)],
)))
"""


def test_only_the_total_copies_its_response_times_and_locust_reads_the_same() -> None:
    """Locust copies every row's response-time counts each second and keeps twenty
    copies, though it reads only the total's (its charts' current percentiles): the rows'
    copies go, rows made later and rows after a reset too, and every figure Locust shows
    is what it shows untrimmed."""
    done = subprocess.run(
        [sys.executable, "-c", COPIES_SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    for held, untouched in seen["copies"]:  # before Locust's reset, and after
        assert held == 0 and untouched > 12 * 20 * 5  # twenty copies a row, of 5+ counts
    assert seen["total_copies"] == [20, 20]
    assert seen["figures"][0] == seen["figures"][1]
    assert seen["figures"][0][0] is not None  # the current percentile was read


POINTS_SCRIPT = """
import hashlib
import json
import tracemalloc
from types import SimpleNamespace
from locust.stats import RequestStats, update_stats_history
from harness.locust.stats_trim import ChartHistory

stats = RequestStats()
for ms in range(200, 5000, 7):
    stats.log_request("first_reply", "scenario", ms, 0)
runner = SimpleNamespace(stats=stats, user_count=2000)
charts = ChartHistory()
tracemalloc.start()
for n in range(200):  # fewer than HISTORY_POINTS: none is thinned away
    update_stats_history(runner, timestamp=f"2026-12-06T07:{n // 60:02d}:{n % 60:02d}Z")
locusts = tracemalloc.get_traced_memory()[0]
served = hashlib.sha256(json.dumps(stats.history).encode()).hexdigest()
charts.thin(stats)
held = tracemalloc.get_traced_memory()[0]
keys = [[id(key) for key in point] for point in stats.history]
same = hashlib.sha256(json.dumps(stats.history).encode()).hexdigest() == served
print(json.dumps(dict(locusts=locusts, held=held, same=same,
        shared=all(ids == keys[0] for ids in keys), points=len(stats.history))))
"""


def test_chart_points_are_held_in_less_memory_and_serve_the_same() -> None:
    """Locust's own points (its ``update_stats_history``), once held: the JSON its web UI
    and HTML report serve is unchanged, every point's keys are the same strings, and 200
    points take under 0.85 of the memory (Locust's, with a list per pair and fresh keys
    each point, about 970 bytes a point; held, 650 a point and 20 KB once: 0.77)."""
    done = subprocess.run(
        [sys.executable, "-c", POINTS_SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["points"] == 200 and seen["same"] and seen["shared"]
    assert seen["held"] < 0.85 * seen["locusts"], seen
