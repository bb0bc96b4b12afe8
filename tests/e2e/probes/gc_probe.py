"""A locustfile: chatstorm's, plus listeners that watch the garbage collector.

Its listeners run after chatstorm's (registered later). It prints one JSON line at quit:
how many collections ran while users were spawning, and the collector's state once
spawning was complete.
"""

import gc
import json
from pathlib import Path

from locust import events

from harness.locust.plugin import GC_THRESHOLDS_UNDER_LOAD, install

globals().update(install(default_scenarios=Path(__file__).resolve().parents[3] / "scenarios"))

seen: dict = {"while_spawning": 0}
spawning = False


def count(phase: str, _info: dict) -> None:
    if phase == "start" and spawning:
        seen["while_spawning"] += 1


gc.callbacks.append(count)


@events.test_start.add_listener
def _start(**_kwargs) -> None:
    global spawning
    spawning = True


@events.spawning_complete.add_listener
def _spawned(**_kwargs) -> None:
    global spawning
    spawning = False
    seen["enabled_after"] = gc.isenabled()
    seen["rare_after"] = gc.get_threshold() == GC_THRESHOLDS_UNDER_LOAD


@events.quit.add_listener
def _quit(**_kwargs) -> None:
    print(json.dumps(seen), flush=True)
