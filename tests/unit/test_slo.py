import pytest

from harness.metrics.aggregate import RunStats
from harness.metrics.burst import measure_burst
from harness.report.model import RunFigures, ScenarioFigures
from harness.report.slo import evaluate, parse_override
from harness.scenario import Scenario


def report_with(bursts: list) -> dict[str, ScenarioFigures]:
    """A scenario's measured figures, typed as the objectives read them."""
    stats = RunStats()
    for burst in bursts:
        stats.scenario("S").add_burst(burst)
    return RunFigures.model_validate(stats.to_report()).scenarios


def test_parse_override_accepts_known_keys_only():
    assert parse_override("first_reply_p95_ms=3000") == ("first_reply_p95_ms", 3000.0)
    with pytest.raises(ValueError, match="KEY one of first_reply_p50_ms"):
        parse_override("first_reply_p96_ms=3")
    with pytest.raises(ValueError, match="is not a number"):
        parse_override("timeout_rate_max=lots")
    with pytest.raises(ValueError, match="less than or equal to 1"):
        parse_override("timeout_rate_max=5")


def test_objectives_pass_and_fail_on_the_measured_figures():
    bursts = [measure_burst([0, 1], [0, 1], [1.5, 2.0], False, 1.0)] * 19
    bursts.append(measure_burst([0, 5, 6], [0, 5, 6], [2.0, 9.0], False, 1.0))  # premature
    report = report_with(bursts)
    scenario = Scenario(
        name="S",
        expect={
            "first_reply_p95_ms": 600,
            "premature_reply_rate_max": 0.01,
            "reply_groups_per_burst_max": 1.1,
        },
    )
    results = {r.key: r for r in evaluate(report, {"S": scenario}, {})}
    assert results["first_reply_p95_ms"].measured == 500 and results["first_reply_p95_ms"].passed
    assert results["premature_reply_rate_max"].measured == pytest.approx(0.05)
    assert not results["premature_reply_rate_max"].passed
    assert results["reply_groups_per_burst_max"].measured == pytest.approx(1.05)
    assert results["reply_groups_per_burst_max"].passed
    assert results["premature_reply_rate_max"].line() == (
        "FAIL  S: premature_reply_rate_max = 5.00% (limit 1.00%)"
    )


def test_command_line_overrides_the_scenario_and_missing_data_fails():
    report = report_with([measure_burst([0], [0], [], True, 1.0)])  # one timeout, no reply
    scenario = Scenario(name="S", expect={"timeout_rate_max": 0.5})
    results = {
        r.key: r
        for r in evaluate(
            report, {"S": scenario}, {"timeout_rate_max": 1.0, "first_reply_p99_ms": 100}
        )
    }
    assert results["timeout_rate_max"].limit == 1.0 and results["timeout_rate_max"].passed
    first = results["first_reply_p99_ms"]
    assert first.measured is None and not first.passed
    assert first.line() == "FAIL  S: first_reply_p99_ms = no data (limit 100 ms)"
