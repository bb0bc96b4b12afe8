import msgpack

from harness.metrics.burst import measure_burst
from harness.metrics.quality import WINDOW_S, QualityTimeline

FAST = measure_burst([0.0], [0.0], [0.1], False, 1.0)  # 100 ms reply
SLOW = measure_burst([0.0], [0.0], [2.0], False, 1.0)  # 2 s reply
PREMATURE = measure_burst([0.0, 5.0], [0.0, 5.0], [1.0, 6.0], False, 1.0)
TIMEOUT = measure_burst([0.0], [0.0], [], True, 1.0)
START = 1_000_000.0  # a wall-clock time on a window boundary


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
