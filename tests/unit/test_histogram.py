import random
from array import array
from collections import Counter

import pytest

from harness.metrics.aggregate import ScenarioStats
from harness.metrics.burst import measure_burst
from harness.metrics.histogram import (
    _SLOT_OF_TEXT,
    DENSE_AT,
    Histogram,
    Sparse,
    _key_text,
    bucket_3sig,
)


def test_buckets_keep_three_significant_digits():
    assert bucket_3sig(1234.5) == 1230
    assert bucket_3sig(12.345) == 12.3
    assert bucket_3sig(0.012345) == 0.0123
    assert bucket_3sig(0) == 0


def test_values_under_a_microsecond_count_as_zero_and_make_no_decade():
    """Replies that arrive with their message measure 100 ns, 10 ns, 1 ns...: each such
    decade cost the process 165 KB of bucket texts for good, more of them as a run went on."""
    decades = len(_SLOT_OF_TEXT)
    h = Histogram()
    for value in (0.0, 9.99e-5, 3e-7, 1e-12, 0.000999):
        h.add(value)
    assert len(_SLOT_OF_TEXT) == decades and h._decades == {}
    assert h.counts() == {"0": 5} and h.max == 0.000999
    h.add(0.001)
    h.merge(Histogram.from_state({"exact": False, "counts": {"9.99e-05": 2}, "max": 9.99e-05}))
    assert h.counts() == {"0": 7, "0.001": 1} and h.percentile(0.5) == 0.0


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


def _spread(rng: random.Random, n: int) -> list[float]:
    """Latencies over two decades: hundreds of distinct three-digit buckets."""
    return [rng.uniform(100, 10_000) for _ in range(n)]


def test_every_three_digit_bucket_has_its_own_slot_and_comes_back_as_itself():
    """From 0.001 ms to 10^7 ms: the value a slot reads back is the very float
    ``bucket_3sig`` gives, so counts merge with, and report as, a dict of buckets did."""
    h = Histogram()
    buckets = {bucket_3sig(m * 10.0**e) for e in range(-5, 5) for m in range(100, 1000)}
    for bucket in buckets:
        h.add(bucket)
    h.add(999.6)  # rounds up into the next decade
    h.add(0.0)
    read = dict(h._buckets())
    assert read.keys() == buckets | {0.0}
    assert read[1000.0] == 2 and read[0.0] == 1 and h.count == len(buckets) + 2


def test_counts_go_on_the_wire_as_a_dict_of_buckets_did():
    """The keys' texts, their order and counts are those of a Counter of ``bucket_3sig``
    values; read back, even in a decade no histogram has counted in yet, they are the
    same histogram."""
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 2) for _ in range(3000)] + [0.0, -1.0, 1e-12, 3e-12]
    h = Histogram()
    for v in values:
        h.add(v)
    by_bucket = sorted(Counter(map(bucket_3sig, values)).items())
    assert list(h.counts().items()) == [(_key_text(k), n) for k, n in by_bucket]
    state = h.to_state()
    state["counts"]["2500000000"] = 4  # a decade never counted in, in this process
    read = Histogram.from_state(state)
    assert read.counts() == {**h.counts(), "2500000000": 4} and read.count == h.count + 4


def test_a_histogram_merges_alike_whether_its_decades_are_sparse_or_arrays():
    rng = random.Random(8)
    for left_n, right_n in ((10, 3000), (3000, 10), (10, 10), (3000, 3000), (40, 40), (100, 100)):
        left, right, whole = Histogram(), Histogram(), Histogram()
        for histogram, n in ((left, left_n), (right, right_n)):
            for v in [rng.uniform(100, 999) for _ in range(n)]:
                histogram.add(v)
                whole.add(v)
        left.merge(right)
        assert left.counts() == whole.counts() and left.summary() == whole.summary()


def test_histograms_sharing_spares_reuse_each_others_arrays_and_count_the_same():
    """A cleared histogram gives its arrays to the spares, and a decade turning into an
    array anywhere takes one (a window of the timeline refilling the memory another
    window had), whatever width its counts reached; what they count is what a histogram
    of its own counts."""
    rng = random.Random(6)
    spares: list[array] = []
    first, second = Histogram(spares=spares), Histogram(spares=spares)
    for _ in range(2000):
        first.add(rng.uniform(150, 9000))  # two decades, both arrays
    first.merge(Histogram.from_state({"exact": False, "counts": {"150": 70_000}, "max": 150.0}))
    arrays = {id(counts) for counts in first._decades.values()}
    assert len(arrays) == 2 and first._decades[2].typecode == "I"
    first.clear()
    assert first.count == 0 and first._decades == {} and {id(a) for a in spares} == arrays
    assert all(not any(a) for a in spares)

    alone = Histogram()
    values = [rng.uniform(150, 999) for _ in range(1000)] + [0.05] * 3  # a rare decade
    for v in values:
        second.add(v)
        alone.add(v)
    assert id(second._decades[2]) in arrays and len(spares) == 1
    assert isinstance(second._decades[-2], Sparse)  # a few values: no array for them
    later = Histogram.from_state({"exact": False, "counts": {"7000": 2**33}, "max": 7000.0})
    for histogram in (second, alone):
        histogram.merge(later)
        for slot in range(100, 100 + DENSE_AT):
            histogram.add(float(slot) * 10)  # decade 3 turns into an array
    assert spares == [] and second._decades[3].typecode == "Q"  # the spare, widened for 2**33
    assert second.counts() == alone.counts() and second.summary() == alone.summary()


def test_a_latency_histogram_stops_growing_once_its_decades_are_there():
    """Ten times the values, and many more distinct buckets, over the same two decades:
    the same memory (a dict of buckets grew by some 90 bytes a bucket); and a histogram
    of a few values, as a matrix's small scenarios have, keeps a few slots, 10 bytes each
    (a dict took 60 to 100 a slot), up to 127 in a decade."""
    import tracemalloc

    rng = random.Random(4)

    def traced_size(values: list[float]) -> int:
        tracemalloc.start()
        histogram = Histogram()
        for v in values:
            histogram.add(v)
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert histogram.count == len(values)
        return size

    def spread(n: int) -> list[float]:
        return [rng.uniform(150, 9000) for _ in range(n)]

    traced_size(spread(100))  # the decades' buckets, made once for the process
    assert traced_size(spread(50_000)) <= traced_size(spread(5_000)) + 1024
    assert traced_size(spread(5_000)) < 5_000  # two decades of 900 two-byte counts (4-byte: 7.5 KB)
    assert traced_size(spread(20)) < 1_200  # as dicts of slots, 1.5 KB
    few = [float(ms) for ms in range(300, 300 + 4 * (DENSE_AT - 1), 4)]  # one decade's slots
    assert traced_size(few) < 2_000  # as the 900-slot array, 4 KB; as a dict, 8 KB


def test_a_cleared_histogram_counts_again_as_a_new_one_in_the_memory_it_had():
    """A timeline clears the windows it merged away and fills them again: nothing of the
    old values may show, and refilling the same decades makes no new arrays."""
    import tracemalloc

    rng = random.Random(9)
    first = [rng.lognormvariate(7, 1) for _ in range(5000)]
    second = [rng.lognormvariate(7, 1) for _ in range(3000)] + [0.0, 12.5]
    reused, fresh = Histogram(), Histogram()
    for v in first:
        reused.add(v)
    exact = Histogram(exact=True)
    exact.add(3)
    exact.clear()
    assert exact.count == 0 and exact.counts() == {} and exact.max is None
    reused.clear()
    assert reused.count == 0 and reused.counts() == {} and reused.summary()["p50"] is None
    sizes = []
    for histogram in (reused, fresh):
        tracemalloc.start()
        for v in second:
            histogram.add(v)
        sizes.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
    assert reused.counts() == fresh.counts() and reused.summary() == fresh.summary()
    grown, made = sizes
    assert grown < made / 3, sizes  # the arrays were there: the sparse decades grow again


def test_counts_widen_from_two_bytes_to_four_and_eight_and_stay_exact():
    """Dense decades count in 2 bytes a slot; a count past 65,535 widens that decade to
    4 bytes, one past 4,294,967,295 (a merge of long runs, or a day of one bucket) to 8,
    losing nothing; a merge's huge count into 2-byte counts widens twice at once."""
    dense = Histogram()
    for slot in range(100, 400):  # 300 distinct buckets: the decade is an array
        dense.add(float(slot))
    assert dense._decades[2].typecode == "H"
    dense.merge(Histogram.from_state({"exact": False, "counts": {"150": 70_000}, "max": 150.0}))
    assert dense._decades[2].typecode == "I" and dense.counts()["150"] == 70_001
    big = 2**32 + 5
    dense.merge(Histogram.from_state({"exact": False, "counts": {"151": big}, "max": 151.0}))
    dense.add(151.0)
    assert dense._decades[2].typecode == "Q"
    assert dense.counts()["151"] == big + 2 and dense.count == 300 + 70_000 + big + 1
    assert dense.percentile(0.5) == 151.0

    jump = Histogram()
    for slot in range(100, 400):
        jump.add(float(slot))
    jump.merge(Histogram.from_state({"exact": False, "counts": {"200": big}, "max": 200.0}))
    assert jump._decades[2].typecode == "Q" and jump.counts()["200"] == big + 1

    # a sparse decade holding a huge count when it turns into an array
    counts = {str(slot): 1 for slot in range(300, 500)} | {"310": 2**33}
    read = Histogram.from_state({"exact": False, "counts": counts, "max": 499.0})
    assert read._decades[2].typecode == "Q"
    assert read.counts() == counts and read.count == 199 + 2**33
    merged = Histogram()
    merged.merge(read)
    merged.merge(dense)
    assert merged.count == read.count + dense.count


def test_percentiles_read_across_decades_and_zeros():
    h = Histogram()
    for value in [0.0] * 10 + [5.0] * 40 + [50.0] * 40 + [5000.0] * 10:
        h.add(value)
    assert (h.percentile(0.1), h.percentile(0.11), h.percentile(0.5)) == (0.0, 5.0, 5.0)
    assert (h.percentile(0.51), h.percentile(0.9), h.percentile(0.91)) == (50.0, 50.0, 5000.0)
    assert Histogram().percentile(0.5) is None
