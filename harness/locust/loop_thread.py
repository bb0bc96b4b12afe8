"""The asyncio core beside gevent: one event loop in a real OS thread per Locust process.

Locust users are gevent greenlets; the harness core (engine, transports, agent) is
asyncio. Running the core on one loop in its own OS thread keeps every timestamp on the
asyncio side, free of gevent's scheduling, and never blocks the gevent hub:

- gevent -> loop: callables go into a deque; one ``call_soon_threadsafe`` wakes the loop
  per batch, not per call.
- loop -> gevent: callables go into another deque; one gevent ``async_`` watcher (its
  ``send`` is thread-safe) wakes a dispatcher greenlet that runs them in order, in slices
  of at most ``DISPATCH_SLICE_S`` with a short real wait between slices (see below).
- waiting greenlets park on a gevent ``AsyncResult``; no ``concurrent.futures`` locks,
  which cost CPU and multiply GC pauses at thousands of users.

The thread is started with gevent's *original* ``start_new_thread`` so that it is a real
thread even after ``monkey.patch_all()``, and the loop is uvloop's, which does not use
the (patched) ``select`` module.

Why slices: uvloop takes and drops the GIL around every callback. While the gevent side
runs Python without blocking, the loop thread gets the GIL back for one callback per
interpreter switch interval (5 ms), so a 10 ms stretch of Locust bookkeeping delayed
every reply timestamp by about that much (the loop lag p99 was 10-30 ms at 3,000 users).
A wait in the hub releases the GIL for real: the loop thread catches up on everything
due, and its lag stays near the slice length.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import gevent
import gevent.event
from gevent.monkey import get_original

from harness.runtime.bounds import say_failed, say_ran_out

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency on every platform we run on
    uvloop = None

log = logging.getLogger(__name__)

STOP_TASKS_S = 3.0  # what still runs when the loop stops gets this long to take its cancellation

# The dispatcher runs posted callbacks for at most this long, then waits in the hub for
# DISPATCH_PAUSE_S: the GIL goes back to the loop thread and other greenlets run.
DISPATCH_SLICE_S = 0.0005
DISPATCH_PAUSE_S = 0.0005

_start_new_thread = get_original("_thread", "start_new_thread")
_allocate_lock = get_original("_thread", "allocate_lock")


class Submission:
    """A coroutine running on the loop; a greenlet waits on ``result``, anyone may cancel."""

    __slots__ = ("_cancelled", "_owner", "_task", "result")

    def __init__(self, owner: LoopThread) -> None:
        self._owner = owner
        self._task: asyncio.Task | None = None
        self._cancelled = False
        self.result: gevent.event.AsyncResult = gevent.event.AsyncResult()

    def wait(self, timeout: float | None = None) -> Any:
        """Block this greenlet (only) until the coroutine finishes; re-raises its error."""
        return self.result.get(timeout=timeout)

    def cancel(self) -> None:
        """Cancel the coroutine if it is still running; safe to call at any time."""
        if not self.result.ready():
            self._owner.call_soon(self._cancel_in_loop)

    def _cancel_in_loop(self) -> None:
        self._cancelled = True
        if self._task is not None:
            self._task.cancel()


class LoopThread:
    """Owns the process's event loop thread and the two queues across the boundary."""

    def __init__(self, stop_tasks_s: float = STOP_TASKS_S) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop_tasks_s = stop_tasks_s
        self._to_loop: deque[Callable[[], object]] = deque()
        self._to_gevent: deque[Callable[[], object]] = deque()
        self._loop_wake_pending = False
        self._gevent_wake_pending = False
        self._wakeup = gevent.event.Event()
        self._watcher: Any = None
        self._dispatcher: gevent.Greenlet | None = None
        self._stopped = _allocate_lock()

    @property
    def running(self) -> bool:
        return self.loop is not None

    def start(self) -> None:
        """Start the loop thread and the dispatcher greenlet; returns once the loop runs."""
        if self.loop is not None:
            return
        self._watcher = gevent.get_hub().loop.async_()
        self._watcher.start(self._wakeup.set)
        self._dispatcher = gevent.spawn(self._dispatch_forever)
        ready = _allocate_lock()
        ready.acquire()
        self._stopped.acquire()
        _start_new_thread(self._thread_main, (ready,))
        if not ready.acquire(timeout=10):
            raise RuntimeError("the harness event loop thread did not start within 10 s")

    def _thread_main(self, ready: Any) -> None:
        loop = uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        loop.call_soon(ready.release)
        try:
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:  # bounded: a task that ignores its cancellation is left behind
                wait = asyncio.wait(pending, timeout=self._stop_tasks_s)
                _, stubborn = loop.run_until_complete(wait)
                for task in stubborn:  # said here in one line, not by asyncio for each
                    task._log_destroy_pending = False
                if stubborn:
                    log.warning(
                        "chatstorm: %d task(s) ignored their cancellation when the event loop "
                        "stopped; left behind",
                        len(stubborn),
                    )
        finally:
            loop.close()
            self._stopped.release()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel what still runs, stop the loop, wait for the thread, run what it posted."""
        if self.loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed already
            self.loop.call_soon_threadsafe(self.loop.stop)
        if not self._stopped.acquire(timeout=timeout):
            log.warning("chatstorm: the harness event loop did not stop within %.0f s", timeout)
        self.loop = None
        self._run_posted()
        if self._dispatcher is not None:
            self._dispatcher.kill(block=False)
        if self._watcher is not None:
            self._watcher.close()

    def run_bounded(self, factory: Callable[[], Awaitable[Any]], timeout: float, what: str) -> bool:
        """Run ``factory()`` on the loop and wait for it (this greenlet only) at most
        ``timeout`` seconds. Every wait on the stop path goes through here: one that runs
        out, or fails, is logged in one line and the stop goes on without it (False)."""
        if self.loop is None:
            return False
        submission = self.submit(factory)
        try:
            submission.wait(timeout=max(timeout, 0.0))
        except gevent.Timeout:
            submission.cancel()
            say_ran_out(what, timeout)
            return False
        except Exception as exc:
            say_failed(what, exc)
            return False
        return True

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop thread (from the gevent side)."""
        self._to_loop.append(callback)
        if not self._loop_wake_pending and self.loop is not None:
            self._loop_wake_pending = True
            self.loop.call_soon_threadsafe(self._run_submitted)

    def submit(self, factory: Callable[[], Awaitable[Any]]) -> Submission:
        """Start ``factory()`` as a task on the loop; the result arrives on the gevent side."""
        submission = Submission(self)
        self.call_soon(lambda: self._start_task(submission, factory))
        return submission

    def post(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the gevent side, in order (from the loop thread)."""
        self._to_gevent.append(callback)
        if not self._gevent_wake_pending:
            self._gevent_wake_pending = True
            self._watcher.send()

    def _run_submitted(self) -> None:
        self._loop_wake_pending = False
        queue = self._to_loop
        while queue:
            queue.popleft()()

    def _start_task(self, submission: Submission, factory: Callable[[], Awaitable[Any]]) -> None:
        if submission._cancelled:
            self.post(lambda: submission.result.set(None))
            return
        task = asyncio.ensure_future(factory())
        submission._task = task
        task.add_done_callback(lambda done: self.post(lambda: _settle(submission, done)))

    def _dispatch_forever(self) -> None:
        while True:
            self._wakeup.wait()
            self._wakeup.clear()
            while self._run_posted(DISPATCH_SLICE_S):
                gevent.sleep(DISPATCH_PAUSE_S)

    def _run_posted(self, slice_s: float | None = None) -> bool:
        """Run posted callbacks in order, for at most ``slice_s`` seconds (all of them
        without it); True when some are left."""
        self._gevent_wake_pending = False
        queue = self._to_gevent
        end = None if slice_s is None else time.perf_counter() + slice_s
        while queue and (end is None or time.perf_counter() < end):
            try:
                queue.popleft()()
            except Exception:
                log.exception("a harness callback failed on the Locust side")
        return bool(queue)


def _settle(submission: Submission, task: asyncio.Task) -> None:
    if task.cancelled():
        submission.result.set(None)
    elif task.exception() is not None:
        submission.result.set_exception(task.exception())
    else:
        submission.result.set(task.result())
