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
from harness.locust.stats_trim import HISTORY_POINTS, KEEP_S, forget_old_seconds, thin_history

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
seconds = [
    sorted(row.num_reqs_per_sec) + sorted(row.num_fail_per_sec) for row in (stats.total, entry)
]

stats.history.extend({"time": t} for t in range(HISTORY_POINTS))
thin_history(stats)
at_bound = [p["time"] for p in stats.history]
stats.history.append({"time": HISTORY_POINTS})
thin_history(stats)
once = [p["time"] for p in stats.history]
spans = []
for _ in range(10):  # ten hours more
    while len(stats.history) <= HISTORY_POINTS:
        stats.history.append({"time": stats.history[-1]["time"] + 1})
    thin_history(stats)
    spans.append([len(stats.history), stats.history[0]["time"], stats.history[-1]["time"]])
print(json.dumps(dict(now=NOW, keep=KEEP_S, points=HISTORY_POINTS, before=before, after=rates(),
    seconds=seconds, at_bound=at_bound, once=once, spans=spans)))
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

    assert seen["at_bound"] == list(range(points))  # at the bound, nothing is dropped
    assert seen["once"] == list(range(0, points + 1, 2))  # the first and the newest kept
    for length, first, last in seen["spans"]:
        assert length <= points
        assert first == 0  # the charts still start where the run did
        assert last >= length  # and reach its end, past what they hold
    assert seen["spans"][-1][2] > 5 * points
