# ruff: noqa: I001  (locust must be imported first: it monkey-patches the process)
"""Run under Locust's monkey-patching: is the stop path bounded?

Conversations that ignore their cancellation (a transport stuck in a loop, a library
that swallows CancelledError) are left running; the stop must go on past them within its
bound, log that in one line, and count them as interrupted. Prints one JSON object with
what it saw; tests/e2e/test_bounded_stop.py asserts on it.
"""

import locust  # noqa: F401  (monkey-patches everything, as in a real Locust process)

import asyncio
import json
import logging
import sys
import time

from locust.argument_parser import get_parser
from locust.env import Environment

from harness.locust.loop_thread import LoopThread
from harness.locust.options import add_arguments
from harness.locust.runtime import LocustRuntime
from harness.scenario import Scenario

BOUND_S = float(sys.argv[1])
lines: list[str] = []


class Keep(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        lines.append(record.getMessage())


logging.getLogger().addHandler(Keep())
logging.getLogger().setLevel(logging.INFO)


async def ignores_cancellation(started: asyncio.Event | None = None) -> None:
    if started is not None:
        started.set()
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            continue


async def broken() -> None:
    raise RuntimeError("the transport broke")


def bare_loop() -> dict:
    """A bounded wait on a stubborn coroutine, a failing one, then the loop's stop."""
    loop = LoopThread(stop_tasks_s=BOUND_S)
    loop.start()
    began = time.monotonic()
    stubborn = loop.run_bounded(ignores_cancellation, BOUND_S, "a stubborn conversation")
    failing = loop.run_bounded(broken, 5, "closing the transport")
    loop.stop(timeout=10)
    return {
        "stubborn_finished": stubborn,
        "failing_finished": failing,
        "seconds": time.monotonic() - began,
        "stopped": not loop.running,
    }


def stuck_in_a_runtime() -> dict:
    """Two conversations stuck at a runtime's settle."""
    parser = get_parser()
    add_arguments(parser)
    scenario = Scenario.model_validate({"name": "Stuck"})
    runtime = LocustRuntime(Environment(parsed_options=parser.parse_args([])), [scenario])
    runtime.loop = LoopThread(stop_tasks_s=BOUND_S)
    runtime.loop.start()

    async def two_stuck() -> None:
        for _ in range(2):
            started = asyncio.Event()
            task = asyncio.create_task(ignores_cancellation(started))
            runtime.process.active[task] = scenario.name
            await started.wait()

    runtime.loop.run_bounded(two_stuck, 10, "starting")
    began = time.monotonic()
    runtime.settle(timeout=BOUND_S)
    settled = time.monotonic() - began
    runtime.loop.stop(timeout=10)
    return {"seconds": settled, "figures": runtime.recorder.stats.to_report()["scenarios"]["Stuck"]}


print(json.dumps({"bare": bare_loop(), "runtime": stuck_in_a_runtime(), "log": lines}))
