"""A locustfile: chatstorm's, plus a reading of what a soak watches inside the process.

Every ``SOAK_PROBE_INTERVAL_S`` seconds (default 5) from the test's start until it stops,
it prints one line ``soak-probe {json}``: the asyncio tasks alive on the harness's event
loop (counted on that loop, the counting task included), the conversations this process
has finished and those running now. The process outside reads its memory and file
descriptors from /proc as each line arrives (tests/support/soak.py), so every reading
of a sample is taken at the same moment. Reading counters costs the run nothing
measurable; the one extra task every few seconds is the probe's whole footprint.
"""

import asyncio
import json
import os
import time
from pathlib import Path

import gevent
from locust import events

from harness.locust.plugin import install
from harness.locust.users import RUNTIMES

globals().update(install(default_scenarios=Path(__file__).resolve().parents[3] / "scenarios"))

PREFIX = "soak-probe "
INTERVAL_S = float(os.environ.get("SOAK_PROBE_INTERVAL_S", "5"))
STALL_S = 120
"""How long the count may wait for the harness loop: on a shared machine it stalls, and a
probe that gave up would end the soak's samples."""
sampler: list[gevent.Greenlet] = []


async def _count_tasks() -> int:
    return len(asyncio.all_tasks())


def _sample_forever(environment) -> None:
    runtime = RUNTIMES[environment]
    started = time.monotonic()
    while True:
        tasks = runtime.loop.submit(_count_tasks).wait(STALL_S)
        finished = sum(s.conversations for s in runtime.recorder.stats.scenarios.values())
        line = {
            "t_s": round(time.monotonic() - started, 3),
            "tasks": tasks,
            "conversations": finished,
            "active": sum(runtime.active.values()),
        }
        print(PREFIX + json.dumps(line), flush=True)
        gevent.sleep(INTERVAL_S)


@events.test_start.add_listener
def _start(environment, **_kwargs) -> None:
    sampler.append(gevent.spawn(_sample_forever, environment))


@events.test_stopping.add_listener
def _stopping(**_kwargs) -> None:
    for greenlet in sampler:
        greenlet.kill(block=False)
