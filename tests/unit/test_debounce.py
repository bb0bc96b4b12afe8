"""The debounce estimate on synthetic agents whose window is known."""

import random

import msgpack
import pytest

from harness.metrics.aggregate import RunStats, ScenarioStats
from harness.metrics.burst import measure_burst
from harness.metrics.debounce import (
    SAMPLE_LIMIT,
    DebounceSamples,
    estimate_debounce,
    fair_quotas,
)
from harness.records import TurnRecord
from harness.report import Recorder


def debouncing_agent(sends, debounce, think):
    """Arrival times of a debouncing agent's (one-message) answers to ``sends``."""
    answers = []
    for index, sent in enumerate(sends):
        nxt = sends[index + 1] if index + 1 < len(sends) else float("inf")
        if nxt - sent > debounce:
            answers.append(sent + debounce + think())
    return sorted(answers)


def evidence(sends, arrivals, quiet=0.5):
    return measure_burst(sends, sends, arrivals, False, quiet).debounce_evidence


def bursts(debounce, think, pauses, count=200, seed=3):
    rng = random.Random(seed)
    samples = []
    for _ in range(count):
        sends = [0.0]
        for _ in range(2):
            sends.append(sends[-1] + rng.uniform(*pauses))
        arrivals = debouncing_agent(sends, debounce, lambda: think(rng))
        samples.append(evidence(sends, arrivals))
    return samples


def test_brackets_the_window_when_answers_land_inside_the_pause():
    samples = bursts(2.0, lambda rng: rng.uniform(0.2, 0.5), pauses=(0.5, 6.0))
    without, with_answer = estimate_debounce(samples)
    assert without < 2.0 < with_answer
    assert with_answer - without < 0.3  # 200 bursts pin it down


def test_brackets_the_window_when_the_agent_thinks_longer_than_the_pauses():
    # Debounce 1 s, thinking 3-3.4 s: every answer lands after the user's next message,
    # so no message arrives inside the pause that triggered it.
    samples = bursts(1.0, lambda rng: rng.uniform(3.0, 3.4), pauses=(0.3, 2.0))
    without, with_answer = estimate_debounce(samples)
    assert without < 1.0 < with_answer
    assert with_answer - without < 0.3


def test_an_agent_that_answers_every_message_triggers_on_every_pause():
    samples = bursts(0.0, lambda rng: 0.5, pauses=(1.0, 3.0))
    without, with_answer = estimate_debounce(samples)
    assert without is None and with_answer == pytest.approx(1.0, abs=0.05)


def test_an_agent_that_always_waits_is_never_triggered():
    samples = bursts(10.0, lambda rng: 1.0, pauses=(0.5, 3.0))
    without, with_answer = estimate_debounce(samples)
    assert with_answer is None and without == pytest.approx(3.0, abs=0.05)


def test_no_evidence_no_estimate():
    assert estimate_debounce([]) == (None, None)


def stats_of(samples):
    stats = ScenarioStats()
    stats.debounce_samples.extend(samples)
    return stats


def bracket(report, name=None):
    figures = report["totals"] if name is None else report["scenarios"][name]
    estimate = figures["debounce_estimate_s"]
    return estimate["max_pause_without_premature"], estimate["min_pause_with_premature"]


def test_a_live_view_reuses_the_estimate_until_the_samples_grow_and_a_report_never_does():
    fast = bursts(0.5, lambda rng: rng.uniform(0.1, 0.2), (0.1, 1.5), count=100)
    slow = bursts(1.2, lambda rng: rng.uniform(0.1, 0.2), (0.1, 2.5), count=100, seed=5)
    run = RunStats()
    run.scenarios["a"] = stats_of(fast)
    first = bracket(run.to_report(live=True), "a")
    assert first == estimate_debounce(fast) != estimate_debounce(fast + slow[:10])
    run.scenarios["a"].debounce_samples.extend(slow[:10])  # 10 % more: not yet worth it
    assert bracket(run.to_report(live=True), "a") == first
    assert bracket(run.to_report(), "a") == estimate_debounce(fast + slow[:10])  # exact
    run.scenarios["a"].debounce_samples.extend(slow[10:40])  # 40 % more: made again
    assert bracket(run.to_report(live=True), "a") == estimate_debounce(fast + slow[:40])
    # The totals are made again when any scenario's samples change.
    run.scenarios["b"] = stats_of(slow)
    assert bracket(run.to_report()) == estimate_debounce(fast + slow[:40] + slow)


def test_the_totals_hear_every_scenario_not_only_the_first_to_fill_the_sample():
    """Seen: a fast scenario's 2,000 bursts filled the totals' sample, and another's 1,011
    bursts that bracket the window exactly never reached it: no upper bound."""
    never_triggered = bursts(10.0, lambda rng: 1.0, pauses=(0.5, 3.0), count=SAMPLE_LIMIT)
    brackets = bursts(2.0, lambda rng: rng.uniform(0.2, 0.5), pauses=(0.5, 6.0), count=1011)
    run = RunStats()
    run.scenarios["fast"] = stats_of(never_triggered)
    run.scenarios["slow"] = stats_of(brackets)
    totals = run.totals().debounce_samples
    assert len(totals) == SAMPLE_LIMIT
    assert totals.count(brackets[0]) >= 1 and sum(s in brackets for s in totals) == 1000
    _without, with_answer = bracket(run.to_report())
    assert with_answer is not None  # the slow scenario's triggered pauses are in


def test_a_fair_share_gives_what_a_small_group_leaves_to_the_others():
    assert fair_quotas([10, 3, 50], limit=30) == [10, 3, 17]
    assert fair_quotas([10, 3, 50], limit=1000) == [10, 3, 50]
    assert fair_quotas([0, 0], limit=5) == [0, 0]
    assert fair_quotas([4, 4, 4], limit=5) == [2, 2, 1]

    groups = [DebounceSamples(bursts(0.5, lambda rng: 0.2, (0.1, 1.5), count=n)) for n in (9, 40)]
    shared = DebounceSamples.fair_share(groups, limit=20)
    assert list(shared) == [*groups[0], *groups[1][:11]]  # copied array to array, as they were


def test_samples_kept_flat_read_back_as_they_were_appended():
    samples = bursts(0.5, lambda rng: rng.uniform(0.1, 0.2), (0.1, 1.5), count=50)
    samples.append(evidence([0.0, 0.3], [0.1, 0.2, 0.25, 1.4]))  # replies inside the burst
    kept = DebounceSamples(samples)
    assert len(kept) == 51 and list(kept) == samples
    assert kept[-1] == samples[-1] and kept[-1].arrivals == (0.1, 0.2, 0.25)
    assert kept[10:13] == samples[10:13] and kept[::-1] == samples[::-1]
    with pytest.raises(IndexError):
        kept[51]
    assert estimate_debounce(kept) == estimate_debounce(samples)
    wire = msgpack.unpackb(msgpack.packb(kept.to_state()))
    assert wire[-1] == [[0.0, 0.3], [0.1, 0.2, 0.25], [0.1, 1.4], kept[-1].reaction]
    assert list(DebounceSamples.from_state(wire)) == samples


def test_a_full_sample_takes_a_fifth_of_the_memory_of_its_objects():
    import tracemalloc

    def traced(build):
        tracemalloc.start()
        kept = build()
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert len(kept) == SAMPLE_LIMIT
        return size

    spec = dict(debounce=0.5, think=lambda rng: rng.uniform(0.1, 0.2), pauses=(0.1, 1.5))
    as_objects = traced(lambda: bursts(**spec, count=SAMPLE_LIMIT))
    samples = bursts(**spec, count=SAMPLE_LIMIT)
    assert traced(lambda: DebounceSamples(samples)) < as_objects / 5


def test_a_worker_sends_only_the_debounce_samples_it_keeps_itself():
    """A worker's reports (its mirror, replaced after each report) carry a scenario's first
    SAMPLE_LIMIT samples of the run and no more, since its master keeps the first it gets;
    every burst is still counted in them."""
    burst = measure_burst([0.0, 0.3], [0.0, 0.3], [0.1, 1.4], False, 0.5)
    assert burst.debounce_evidence is not None
    delta = RunStats()
    recorder = Recorder(mirror=delta)
    sent_samples = sent_bursts = 0
    for n in range(SAMPLE_LIMIT + 1500):
        recorder.on_turn(TurnRecord("c1", "Batched", 1, burst))
        if n % 700 == 699:  # a report to the master, and a fresh delta
            sent_samples += len(delta.scenario("Batched").debounce_samples)
            sent_bursts += delta.scenario("Batched").bursts
            delta = RunStats()
            recorder.replace_mirror(delta)
    sent_samples += len(delta.scenario("Batched").debounce_samples)
    sent_bursts += delta.scenario("Batched").bursts
    assert sent_samples == SAMPLE_LIMIT
    assert sent_bursts == SAMPLE_LIMIT + 1500
