"""How late the harness's own event loop runs: the error bar on every timestamp.

Every measurement is stamped on the event loop. When the loop is overloaded, callbacks
run late and replies are stamped late, which would read as agent latency. The monitor
sleeps ``INTERVAL_S`` again and again and records how much longer each sleep took:
that lag is the harness's own delay. A window whose p99 exceeds ``ACCURACY_MS`` is
reported, once per window, through ``on_overload``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.metrics.histogram import Histogram

INTERVAL_S = 0.010
WINDOW_S = 5.0
ACCURACY_MS = 5.0


class LoopLagMonitor:
    def __init__(
        self,
        on_samples: Callable[[float, list[float]], None],
        on_overload: Callable[[float, float], None],
        window_s: float = WINDOW_S,
    ) -> None:
        """``on_samples(window_start, lags_ms)`` receives each window's samples with the
        monotonic time the window began; ``on_overload(p99_ms, max_ms)`` is called for a
        window whose p99 lag exceeds the accuracy target."""
        self._on_samples = on_samples
        self._on_overload = on_overload
        self._window_s = window_s
        self._window: list[float] = []
        self._window_start = self._window_end = 0.0

    async def run(self) -> None:
        self._window = []
        self._window_start = time.monotonic()
        self._window_end = self._window_start + self._window_s
        while True:
            start = time.monotonic()
            await asyncio.sleep(INTERVAL_S)
            now = time.monotonic()
            self._window.append(max(0.0, (now - start - INTERVAL_S) * 1000))
            if now >= self._window_end:
                self.flush()

    def flush(self) -> None:
        """Close the current window now (at the end of a test, say)."""
        window, started = self._window, self._window_start
        self._window = []
        self._window_start = time.monotonic()
        self._window_end = self._window_start + self._window_s
        if window:
            self._close_window(started, window)

    def _close_window(self, started: float, lags_ms: list[float]) -> None:
        self._on_samples(started, lags_ms)
        histogram = Histogram()
        for lag in lags_ms:
            histogram.add(lag)
        p99 = histogram.percentile(0.99) or 0.0
        if p99 > ACCURACY_MS:
            self._on_overload(p99, histogram.max or 0.0)


@dataclass
class LoopLagFigures:
    """A process's loop lag over some span: every sample and the overloaded windows.
    Counts only, so a fleet's figures merge exactly."""

    histogram: Histogram = field(default_factory=Histogram)
    overloaded_windows: int = 0

    def to_state(self) -> dict:
        return {
            "histogram": self.histogram.to_state(),
            "overloaded_windows": self.overloaded_windows,
        }

    def merge_state(self, state: dict) -> None:
        self.histogram.merge(Histogram.from_state(state["histogram"]))
        self.overloaded_windows += state["overloaded_windows"]

    def to_report(self) -> dict:
        return {**self.histogram.summary(), "overloaded_windows": self.overloaded_windows}
