"""The soak: thirty minutes of 2,000 live conversations, and whether the process holds still.

The run and its sampling are tests/support/soak.py's (tests/e2e/test_soak.py runs the same
for three minutes): one Locust process, chatstorm's scenarios and an LLM persona cached in
Redis, the reference agent over the mock transport, time scale 0.25. After a warm-up
(ten minutes, or a third of a shorter run) it fits a line to each reading: resident
memory, open file descriptors, asyncio tasks, Redis keys under the run's prefix, and
records the slopes per hour in the "Soak" section of bench/RESULTS.md. It exits 1 when
resident memory grows by more than 1 % of its starting value per hour (or the run
itself failed).

The warm-up is ten minutes because that is how long what is bounded by design takes to
fill at this load: the load timeline's 60 windows (10 s each for the first ten minutes),
2,000 debounce samples a scenario (about five minutes), the common latency buckets. The
memory slope after three minutes is recorded beside it, so the fill shows too.

    python bench/soak.py                # the 30 minutes of ``make bench``, recorded
    python bench/soak.py --minutes 5    # a trial: printed, not recorded
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from results import replace_section  # noqa: E402

from tests.fakes.anthropic_server import API_KEY, MessagesServer  # noqa: E402
from tests.support.redis_support import (  # noqa: E402
    REDIS_URL,
    delete_prefix,
    new_prefix,
    redis_or_fail,
)
from tests.support.soak import TIME_SCALE, USERS, Soak, run_soak  # noqa: E402

SECTION = "## Soak"
RECORDED_MINUTES = 30
WARMUP_S = 600.0
EARLY_S = 180.0
"""The memory slope is also shown from here: the fills of the warm-up included."""
RSS_BOUND = 0.01
"""Resident memory may grow by at most this share of its starting value per hour."""
READINGS = (
    ("resident memory (MB)", "rss_mb"),
    ("open file descriptors", "fds"),
    ("asyncio tasks", "tasks"),
    ("Redis keys", "redis_keys"),
)


async def _redis_answers() -> None:
    """Fail at the start, with how to start Redis, rather than after the run."""
    await (await redis_or_fail()).aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=RECORDED_MINUTES)
    minutes = parser.parse_args().minutes
    seconds = minutes * 60
    warmup_s = min(WARMUP_S, seconds / 3)
    asyncio.run(_redis_answers())
    prefix = new_prefix()
    with MessagesServer() as server, tempfile.TemporaryDirectory() as tmp:
        try:
            soak = run_soak(
                seconds, Path(tmp), REDIS_URL, prefix, server.url, warmup_s,
                env={"ANTHROPIC_API_KEY": API_KEY},
            )  # fmt: skip
        finally:
            asyncio.run(delete_prefix(prefix))
    if soak.returncode != 0 or len(soak.steady) < 2:
        print(soak.stderr[-3000:], file=sys.stderr)
        print(
            f"the soak failed: Locust's exit code {soak.returncode}, {len(soak.samples)} "
            f"samples, {len(soak.steady)} after the warm-up (the probe's lines stopped?)",
            file=sys.stderr,
        )
        return 1
    section = describe(soak, minutes)
    print(section)
    if minutes == RECORDED_MINUTES:
        replace_section(SECTION, section)
    rss_share = soak.slope_per_hour("rss_mb") / soak.steady[0].rss_mb
    return 0 if rss_share <= RSS_BOUND else 1


def describe(soak: Soak, minutes: float) -> str:
    steady = soak.steady
    start, end = steady[0], steady[-1]
    share = soak.slope_per_hour("rss_mb") / start.rss_mb
    held = "holds" if share <= RSS_BOUND else "does NOT hold"
    early_s = min(EARLY_S, soak.warmup_s)
    early = soak.slope_per_hour("rss_mb", since_s=early_s)
    rate = soak.steady_conversations / (soak.steady_hours * 3600)
    rows = "\n".join(
        f"| {label} | {getattr(start, name):,.0f} | {getattr(end, name):,.0f} "
        f"| {soak.slope_per_hour(name):+,.1f} |"
        for label, name in READINGS
    )
    return f"""{SECTION}

Measured {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} on {os.cpu_count()} cores, Python
{sys.version.split()[0]}. Command: `python bench/soak.py` (part of `make bench`).

One Locust process for {minutes:g} minutes: {USERS:,} users on chatstorm's scenarios and an
LLM persona whose answers are cached in Redis, against the reference agent over the mock
transport at time scale {TIME_SCALE}: {USERS:,} conversations live at once, {rate:,.0f}
finishing per second ({soak.steady_conversations:,} after the {soak.warmup_s / 60:g}-minute
warm-up). Slopes are least squares over the {len(steady)} samples after the warm-up.

| reading | after warm-up | at the end | slope per hour |
| --- | ---: | ---: | ---: |
{rows}

- **Resident memory: {soak.slope_per_hour("rss_mb"):+,.1f} MB per hour, {share:+.2%} of its
  starting {start.rss_mb:,.0f} MB**: the bound of {RSS_BOUND:.0%} per hour {held}.
- From {early_s / 60:g} minutes on, the fills of the warm-up included: {early:+,.1f} MB per
  hour.
"""


if __name__ == "__main__":
    sys.exit(main())
