"""The soak, bounded: three minutes of 2,000 live conversations, and the process holds still.

tests/support/soak.py runs it (the same run as ``bench/soak.py``, shorter). After the
warm-up every reading must be flat: what a conversation leaves behind when it ends
(memory, a file, a task, a Redis key) adds up over the ~19,000 that finish in the window.
"""

from __future__ import annotations

import json

import pytest

from tests.support.redis_support import REDIS_URL
from tests.support.soak import USERS, run_soak

SECONDS = 180
WARMUP_S = 90.0
"""Spawning takes 20 s; then the allocator's pools, the histograms and each scenario's
debounce evidence (up to 2,000 samples kept per scenario) grow towards their working set
for about a minute more."""
RSS_KB_PER_CONVERSATION = 0.5
"""The bound on resident memory: the fitted growth over the window, per conversation
finished in it. Measured on the 2-core development machine with nothing left behind:
0.19 KB (3.3 MB over 17,900 conversations: the debounce evidence, histograms and
allocator pools still filling). With each judged conversation a reference cycle (left to
the collector, which under load runs every ~40 s and promotes what is alive then for
good): 1.44 KB (25 MB). The bound sits between the two, well clear of each."""
FDS_PER_CONVERSATION = 1 / 500
"""A descriptor kept per conversation is 500 times over this; the Redis client opening
a few more connections after a stalled loop is not."""
TASKS_PER_CONVERSATION = 1 / 100
"""About 2,300 tasks live (one per conversation, and the reference agent's) and vary by
a few dozen between samples; one left per conversation is 100 times over this."""


@pytest.mark.timeout(SECONDS + 240)  # the run, its report, and the driver's own bound
def test_a_three_minute_soak_holds_memory_fds_tasks_and_redis_keys_flat(
    server, redis_prefix, tmp_path
):
    soak = run_soak(SECONDS, tmp_path, REDIS_URL, redis_prefix, server.url, WARMUP_S)
    assert soak.returncode == 0, soak.stderr[-3000:]
    assert "Traceback" not in soak.stderr
    steady = soak.steady
    assert len(steady) >= 12, f"{len(soak.samples)} samples in {soak.seconds:.0f} s"
    assert min(s.active for s in steady) >= 0.95 * USERS  # 2,000 live at once, throughout
    finished = soak.steady_conversations
    assert finished >= 5_000, finished

    report = json.loads((soak.report_dir / "report.json").read_text())
    totals = report["totals"]
    assert totals["conversations"] >= finished and totals["timeouts"] == 0
    assert totals["llm"]["cache_hits"] > 0  # the LLM persona ran on the Redis cache
    assert (soak.report_dir / "report.html").stat().st_size > 0
    assert (soak.report_dir / "transcripts.jsonl").stat().st_size > 0

    figures = (
        f"over {finished:,} conversations: RSS {soak.growth('rss_mb'):+.1f} MB, fds"
        f" {soak.growth('fds'):+.1f}, tasks {soak.growth('tasks'):+.1f};"
        f" RSS MB {[round(s.rss_mb) for s in steady]}"
    )
    assert soak.growth("rss_mb") * 1024 <= RSS_KB_PER_CONVERSATION * finished, figures
    assert soak.growth("fds") <= FDS_PER_CONVERSATION * finished, figures
    assert soak.growth("tasks") <= TASKS_PER_CONVERSATION * finished, figures
    keys = [s.redis_keys for s in steady]
    assert keys[0] > 0 and keys[-1] == keys[0], keys  # the cache filled, then only hit
