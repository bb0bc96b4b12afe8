"""Measurement: per-burst figures from timestamps, mergeable run-wide accounting."""

from harness.metrics.aggregate import RunStats, ScenarioStats
from harness.metrics.burst import BurstMeasurement, measure_burst
from harness.metrics.histogram import Histogram

__all__ = ["BurstMeasurement", "Histogram", "RunStats", "ScenarioStats", "measure_burst"]
