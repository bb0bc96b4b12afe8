# ruff: noqa: I001  (locust must be imported first: it monkey-patches the process)
"""Run under Locust's monkey-patching: does the loop thread leave the gevent hub free?

2,000 greenlets each wait on a coroutine in the loop thread while the loop also burns
300 ms of pure CPU; a ticker greenlet measures how late the hub wakes it. The other way
round, the loop thread measures the longest wait between its callbacks while the gevent side
works through 200 ms of callbacks the loop posted. Prints one JSON object with what it measured;
tests/e2e/test_loop_thread.py asserts on it.
"""

import locust  # noqa: F401  (monkey-patches everything, as in a real Locust process)

import asyncio
import json
import random
import threading
import time

import gevent

from harness.locust.loop_thread import LoopThread

loop_thread = LoopThread()
loop_thread.start()
lags: list[float] = []
running = True


def ticker() -> None:
    while running:
        start = time.monotonic()
        gevent.sleep(0.005)
        lags.append(time.monotonic() - start - 0.005)


async def echo(value: int, delay: float) -> int:
    await asyncio.sleep(delay)
    return value


async def burn_cpu(seconds: float) -> int:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return threading.get_native_id()


async def fail() -> None:
    raise ValueError("boom")


async def forever(flag: list) -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        flag.append("cancelled")
        raise


async def flood_then_hop(callbacks: int, seconds: float) -> list[float]:
    """Post ``callbacks`` busy callbacks to the gevent side, then run one loop callback
    after another for ``seconds``: the waits between two of them over 2.5 ms, in ms."""
    for _ in range(callbacks):
        loop_thread.post(busy_callback)
    long_waits = []
    last = start = time.monotonic()
    while last - start < seconds:
        await asyncio.sleep(0)
        now = time.monotonic()
        if now - last > 0.0025:
            long_waits.append((now - last) * 1000)
        last = now
    return long_waits


def busy_callback() -> None:
    end = time.perf_counter() + 0.00025
    while time.perf_counter() < end:
        pass


rng = random.Random(1)
delays = [rng.uniform(0.1, 0.3) for _ in range(2000)]
submissions = [loop_thread.submit(lambda i=i: echo(i, delays[i])) for i in range(2000)]
waiters = [gevent.spawn(sub.wait, 5) for sub in submissions]
gevent.sleep(0.02)  # every waiter parked; from here on, measure the hub
tick = gevent.spawn(ticker)
loop_thread_id = loop_thread.submit(lambda: burn_cpu(0.3)).wait(5)
gevent.joinall(waiters, timeout=10)
values_ok = [w.value for w in waiters] == list(range(2000))
try:
    loop_thread.submit(fail).wait(5)
    error = None
except ValueError as exc:
    error = str(exc)
flag: list = []
long_one = loop_thread.submit(lambda: forever(flag))
gevent.sleep(0.05)
long_one.cancel()
cancelled_result = long_one.wait(5)
running = False
tick.join()
loop_long_waits_ms = loop_thread.submit(lambda: flood_then_hop(800, 0.25)).wait(10)
loop_thread.stop()
print(
    json.dumps(
        {
            "values_ok": values_ok,
            "loop_thread_is_other_os_thread": loop_thread_id != threading.get_native_id(),
            "error": error,
            "cancelled": flag,
            "cancelled_result": cancelled_result,
            "hub_lag_max_ms": max(lags) * 1000,
            "ticks": len(lags),
            "loop_long_waits_ms": loop_long_waits_ms,
        }
    )
)
