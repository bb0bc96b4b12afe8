"""How long a headless Locust run took to exit after its -t ran out, read from its log."""

from __future__ import annotations

import re
from datetime import datetime

RUN_TIME_REACHED = re.compile(r"^\[(\S+ \S+)\] .*--run-time limit reached", re.MULTILINE)


def seconds_after_run_time(printed: str, exited_at: float) -> float:
    """Seconds from Locust's "--run-time limit reached" line to ``exited_at`` (epoch
    seconds, taken when the process was seen to exit)."""
    match = RUN_TIME_REACHED.search(printed)
    assert match is not None, f"the run never reached its -t: {printed[-2000:]}"
    reached = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return exited_at - reached
