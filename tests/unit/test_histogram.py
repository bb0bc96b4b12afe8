import random

import pytest

from harness.metrics.aggregate import ScenarioStats
from harness.metrics.burst import measure_burst
from harness.metrics.histogram import Histogram, bucket_3sig


def test_buckets_keep_three_significant_digits():
    assert bucket_3sig(1234.5) == 1230
    assert bucket_3sig(12.345) == 12.3
    assert bucket_3sig(0.012345) == 0.0123
    assert bucket_3sig(0) == 0


def test_percentiles_within_bucket_precision_of_exact():
    rng = random.Random(1)
    values = [rng.lognormvariate(5, 1) for _ in range(5000)]
    h = Histogram()
    for v in values:
        h.add(v)
    ordered = sorted(values)
    for q in (0.5, 0.95, 0.99):
        exact = ordered[int(q * len(values)) - 1]
        assert h.percentile(q) == pytest.approx(exact, rel=0.01)
    assert h.max == max(values)
    assert h.count == 5000


def test_merging_equals_recording_everything_in_one():
    rng = random.Random(2)
    values = [rng.uniform(1, 2000) for _ in range(3000)]
    whole, left, right = Histogram(), Histogram(), Histogram()
    for i, v in enumerate(values):
        whole.add(v)
        (left if i % 3 else right).add(v)
    left.merge(right)
    assert left.counts() == whole.counts()
    assert left.summary() == whole.summary()


def test_scenario_stats_merge_exactly():
    a, b, both = ScenarioStats(), ScenarioStats(), ScenarioStats()
    bursts = [
        measure_burst([0, 1], [0, 1], [3.5, 4.0], False, 1.0),
        measure_burst([0, 8, 9], [0, 8, 9], [3, 12], False, 1.0),
        measure_burst([0], [0], [], True, 1.0),
    ]
    for i, m in enumerate(bursts):
        (a if i % 2 else b).add_burst(m)
        (a if i % 2 else b).add_late(i)
        both.add_burst(m)
        both.add_late(i)
    a.add_conversation("max_turns", 0)
    b.add_conversation("interrupted", 1)
    both.add_conversation("max_turns", 0)
    both.add_conversation("interrupted", 1)
    a.merge(b)
    assert a.to_report() == both.to_report()
    report = both.to_report()
    assert report["timeouts"] == 1 and report["premature_bursts"] == 1
    assert report["reply_groups_per_burst"] == {"0": 1, "1": 1, "2": 1}
    assert report["debounce_estimate_s"] == {
        "max_pause_without_premature": 1,
        "min_pause_with_premature": 8,
        "bursts_sampled": 2,
    }
    assert report["late_replies"] == 3
    assert report["conversations_interrupted"] == 1 and report["bursts_interrupted"] == 1


def test_state_round_trip_through_msgpack_merges_exactly():
    import msgpack

    from harness.metrics.aggregate import RunStats

    bursts = [
        measure_burst([0, 1], [0, 1], [3.5, 4.0], False, 1.0),
        measure_burst([0, 8, 9], [0, 8, 9], [3, 12], False, 1.0),
        measure_burst([0], [0], [], True, 1.0),
    ]
    one, two, both = RunStats(), RunStats(), RunStats()
    for i, burst in enumerate(bursts):
        for stats in ((one if i % 2 else two), both):
            stats.scenario("S").add_burst(burst)
            stats.scenario("T").add_late(i)
    one.scenario("S").add_conversation("interrupted", 1)
    both.scenario("S").add_conversation("interrupted", 1)
    master = RunStats()
    for worker in (one, two):
        wire = msgpack.unpackb(msgpack.packb(worker.to_state()))
        master.merge_state(wire)
    assert master.to_report() == both.to_report()
