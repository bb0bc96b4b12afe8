import random
import tracemalloc

import msgpack

from harness.metrics.burst import measure_burst
from harness.metrics.histogram import Histogram
from harness.metrics.quality import MAX_WINDOWS, WINDOW_S, QualityTimeline

FAST = measure_burst([0.0], [0.0], [0.1], False, 1.0)  # 100 ms reply
SLOW = measure_burst([0.0], [0.0], [2.0], False, 1.0)  # 2 s reply
PREMATURE = measure_burst([0.0, 5.0], [0.0, 5.0], [1.0, 6.0], False, 1.0)
TIMEOUT = measure_burst([0.0], [0.0], [], True, 1.0)
START = 1_000_000.0  # a wall-clock time on a window boundary
RARE = (0.00005, 0.0005, 0.005, 0.05, 20.0)
"""Replies in five decades the common ones are not in (seconds, times 1 to 9)."""


def test_timeline_shows_where_quality_degrades_as_users_grow():
    timeline = QualityTimeline()
    for window, (users, bursts) in enumerate(
        [
            (10, [FAST] * 20),
            (50, [FAST] * 18 + [PREMATURE] * 2),
            (100, [SLOW] * 10 + [TIMEOUT] * 10),
        ]
    ):
        t = START + window * WINDOW_S
        timeline.note_users(t + 1, users)
        for burst in bursts:
            timeline.add_burst(t + 5, burst)
    report = timeline.to_report(START)
    rows = report["timeline"]
    assert [(r["t_s"], r["users"], r["bursts"]) for r in rows] == [
        (0, 10, 20),
        (10, 50, 20),
        (20, 100, 20),
    ]
    assert rows[0]["first_reply_ms"]["p95"] == 100 and rows[0]["timeout_rate"] == 0
    assert rows[1]["premature_reply_rate"] == 0.1
    assert rows[2]["first_reply_ms"]["p50"] == 2000 and rows[2]["timeout_rate"] == 0.5
    bands = {b["users"]: b for b in report["bands"]}
    assert set(bands) == {"0-19", "40-59", "80-100"}
    assert bands["80-100"]["timeout_rate"] == 0.5 and bands["0-19"]["first_reply_ms"]["p99"] == 100


def test_workers_windows_merge_exactly_on_the_master():
    one, two, both = QualityTimeline(), QualityTimeline(), QualityTimeline()
    for i, burst in enumerate([FAST, SLOW, PREMATURE, TIMEOUT] * 5):
        t = START + (i % 3) * WINDOW_S
        (one if i % 2 else two).add_burst(t, burst)
        both.add_burst(t, burst)
    master = QualityTimeline()
    for worker in (one, two):
        master.merge_state(msgpack.unpackb(msgpack.packb(worker.to_state())))
    for timeline in (master, both):
        timeline.note_users(START, 7)
    assert master.to_report(START) == both.to_report(START)


def test_bursts_in_a_window_without_its_own_user_sample_still_count_in_a_band():
    """Seen on a busy machine: a burst filed just past a window's edge, before that
    window's first once-a-second user sample, was left out of every band."""
    timeline = QualityTimeline()
    timeline.note_users(START + 1, 6)
    timeline.add_burst(START + 5, FAST)
    timeline.add_burst(START + WINDOW_S + 0.1, SLOW)  # the next window, not yet sampled
    report = timeline.to_report(START)
    assert sum(band["bursts"] for band in report["bands"]) == 2
    assert [row["users"] for row in report["timeline"]] == [6, None]


def _reply_after(seconds: float):
    return measure_burst([0.0], [0.0], [seconds], False, 1.0)


HOUR = [(START + i, _reply_after(0.1 + (i % 997) * 0.01)) for i in range(3600)]
"""An hour, a burst a second, replies from 0.1 s to 10 s: hundreds of buckets a window."""


def test_an_hour_keeps_at_most_max_windows_and_every_burst_in_them():
    timeline = QualityTimeline()
    everything = Histogram()
    for t, burst in HOUR:
        timeline.note_users(t, 5)
        timeline.add_burst(t, burst)
        everything.add(burst.first_reply_ms)
    report = timeline.to_report(START)
    assert report["window_s"] == 80  # 40 s windows would be 90 of them
    rows = report["timeline"]
    assert len(rows) <= MAX_WINDOWS
    assert [row["t_s"] for row in rows] == [80 * i for i in range(len(rows))]
    assert sum(row["bursts"] for row in rows) == 3600
    assert all(row["users"] == 5 for row in rows)
    (band,) = report["bands"]  # every window merged back: the whole hour, exactly
    assert band["first_reply_ms"]["p95"] == everything.percentile(0.95)
    assert band["first_reply_ms"]["p50"] == everything.percentile(0.5)


def test_after_its_first_fill_the_timeline_refills_the_windows_it_merged_away():
    """Each widening merges half the windows into the others: those are cleared and are
    the next windows to open, in one process and on a master adding its workers' windows,
    so the timeline makes no window (and no histogram memory) after its first
    ``MAX_WINDOWS``, and the figures are still every burst's, exactly."""
    alone, master, worker = QualityTimeline(), QualityTimeline(), QualityTimeline()
    ever: dict[str, dict[int, object]] = {"alone": {}, "master": {}}
    for t, burst in HOUR:
        alone.add_burst(t, burst)
        worker.add_burst(t, burst)
        if (t - START) % 30 == 29:  # a master merges a worker's delta every 30 s
            master.merge_state(worker.to_state())
            worker = QualityTimeline()
        for name, timeline in (("alone", alone), ("master", master)):
            ever[name].update((id(window), window) for window in timeline.windows.values())
    assert alone.window_s == master.window_s == 80
    assert len(ever["alone"]) == len(ever["master"]) == MAX_WINDOWS
    assert master.to_report(START) == alone.to_report(START)


def test_a_fleet_merges_exactly_whatever_width_each_process_reached():
    """One worker reports every 30 s (a fresh, narrow timeline each time), another sends
    its whole hour at once (already widened): the master ends as one process would."""
    rng = random.Random(5)
    often, whole, alone = QualityTimeline(), QualityTimeline(), QualityTimeline()
    master = QualityTimeline()
    for t, burst in HOUR:
        if rng.random() < 0.5:
            often.add_burst(t, burst)
        else:
            whole.add_burst(t, burst)
        alone.add_burst(t, burst)
        if (t - START) % 30 == 29:
            master.merge_state(msgpack.unpackb(msgpack.packb(often.to_state())))
            often = QualityTimeline()
    master.merge_state(msgpack.unpackb(msgpack.packb(whole.to_state())))
    for timeline in (master, alone):
        timeline.note_users(START, 7)
    assert master.to_report(START) == alone.to_report(START)
    assert master.window_s == 80


def _hour_of_busy_windows(report_every_s: int | None) -> tuple[QualityTimeline, int]:
    """An hour of ten bursts a second, filed in one process or (``report_every_s``) in a
    worker whose deltas a master merges: the master's timeline and its traced size."""
    replies = [_reply_after(0.1 + (i * 7919 % 1000) * 0.01) for i in range(1000)]
    tracemalloc.start()
    timeline = QualityTimeline()
    filed = timeline if report_every_s is None else QualityTimeline()
    for second in range(3600):
        for i in range(10):
            filed.add_burst(START + second, replies[(second * 10 + i) % 1000])
        if report_every_s is not None and second % report_every_s == report_every_s - 1:
            timeline.merge_state(filed.to_state())
            filed = QualityTimeline()
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return timeline, size


def test_a_long_timeline_costs_kilobytes_a_window():
    """45 windows of some 800 buckets over three decades take about 2 MB, where dicts of
    buckets took 5 MB."""
    timeline, size = _hour_of_busy_windows(None)
    assert len(timeline.windows) == 45
    assert size < 2_500_000


def test_after_its_first_fill_the_timeline_holds_nearly_still_as_its_windows_widen():
    """A hundred bursts a second for half an hour, nearly all replies in two decades and
    one in 500 in five rarer ones (under a millisecond, over ten seconds), as the soak's
    are: from the 10th minute to the 30th the timeline grows 138 KB. Windows with arrays
    of their own, from their first value, grew 500 KB, as each window came to hold an
    array for every rare decade it had once seen: the soak's timeline made arrays for its
    whole 30 minutes."""
    rng = random.Random(3)
    replies = [
        _reply_after(rng.choice(RARE) * rng.uniform(1, 9))
        if rng.random() < 0.002
        else _reply_after(rng.uniform(0.15, 9.0))
        for _ in range(20_000)
    ]
    tracemalloc.start()
    timeline = QualityTimeline()
    traced = {}
    for second in range(1800):
        for i in range(100):
            timeline.add_burst(START + second, replies[(second * 100 + i) % 20_000])
        if second + 1 in (600, 1800):
            traced[second + 1] = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert timeline.window_s == 40
    assert traced[1800] - traced[600] < 250_000, traced


def test_a_master_that_merges_its_workers_deltas_holds_what_one_process_would():
    """A worker's delta every 30 s, folded into the master's windows: the same windows,
    the same memory."""
    timeline, size = _hour_of_busy_windows(30)
    alone, _ = _hour_of_busy_windows(None)
    assert timeline.to_report(START) == alone.to_report(START)
    assert size < 2_500_000
