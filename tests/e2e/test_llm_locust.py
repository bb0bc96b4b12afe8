"""LLM personas in real Locust runs (subprocesses) against the local Messages API."""

from __future__ import annotations

import asyncio
import json

import pytest

from harness.metrics import RunStats
from harness.metrics.persona_usage import PersonaUsage
from harness.report.model import RunFigures
from harness.report.summary import llm_cells
from tests.fakes.anthropic_server import API_KEY
from tests.support.fleet import locust_master
from tests.support.locust_runs import (
    http,
    locust,
    read_jsonl,
    run_headless,
    scenario_dir,
    wait_for,
    web_ui,
    worker_file,
)
from tests.support.redis_support import REDIS_URL, delete_prefix, new_prefix

SCALE = 0.1  # pauses of 40 ms against a 100 ms debounce

LLM = """\
name: LLM Persona
pattern: "C A"
max_turns: 3
persona:
  name: Max
  objective: get a lost order resent
  personality: impatient
  max_messages_per_turn: 3
  engine: llm
  llm: {model: claude-haiku-4-5, max_tokens: 200}
timing: {inter_message_delays: [0.4], think_time: 0.5}
collect: {first_reply_timeout: 20, quiet_window: 2.0, max_collect: 30}
agent: {debounce_s: 1.0, think_time_s: 0.6, reply_parts: 1}
"""


def test_a_locust_run_with_llm_personas_reports_tokens_and_cost(server, tmp_path):
    scenarios = scenario_dir(tmp_path, llm=LLM)
    report_dir = tmp_path / "report"
    result = run_headless(
        scenarios,
        "--llm-base-url", server.url,
        "--llm-cache-dir", str(tmp_path / "cache"),
        "--report-dir", str(report_dir),
        "--conversations-per-user", "1",
        users=4,
        duration="4s",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    report_text = (report_dir / "report.json").read_text()
    report = json.loads(report_text)
    figures = report["scenarios"]["LLM Persona"]
    assert figures["conversations"] == 4 and figures["conversations_interrupted"] == 0
    llm = figures["llm"]
    answered = server.api.answered
    assert llm["requests"] == len(answered) == 12  # 4 conversations x 3 turns, all answered
    served = [seen.usage for seen in answered]
    assert llm["tokens"] == {
        "input": sum(u["input_tokens"] for u in served),
        "output": sum(u["output_tokens"] for u in served),
        "cache_write": sum(u["cache_creation_input_tokens"] for u in served),
        "cache_read": sum(u["cache_read_input_tokens"] for u in served),
    }
    assert llm["cost_usd"] > 0 and report["totals"]["llm"]["cost_usd"] == llm["cost_usd"]
    assert "chatstorm: LLM personas" in result.stdout
    transcripts = (report_dir / "transcripts.jsonl").read_text()
    client_lines = [line for line in read_jsonl(report_dir / "transcripts.jsonl")
                    if line["role"] == "client"]  # fmt: skip
    assert client_lines and all(line["text"].startswith("turn ") for line in client_lines)
    for text in (result.stdout, result.stderr, report_text, transcripts):
        assert API_KEY not in text


def test_a_locust_run_without_an_api_key_stops_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    result = run_headless(scenario_dir(tmp_path, llm=LLM), users=1, duration="2s")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "chatstorm: engine: llm needs an Anthropic API key: set ANTHROPIC_API_KEY" in (
        result.stderr
    )


def test_persona_usage_merges_exactly_across_processes():
    """What a worker sends its master (to_state) adds up to the same figures."""
    workers = []
    for k in range(3):
        stats = RunStats()
        usage = stats.scenario("S").persona_usage
        usage.merge(PersonaUsage(requests=k + 1, retries=k, cache_hits=2, fallback_budget=k))
        usage.merge(PersonaUsage(input_tokens=1000 * k, cache_read_tokens=7, cost_nano_usd=333))
        workers.append(stats)
    master = RunStats()
    for stats in workers:
        master.merge_state(json.loads(json.dumps(stats.to_state())))
    report = master.to_report()["scenarios"]["S"]["llm"]
    assert report["requests"] == 6 and report["retries"] == 3 and report["cache_hits"] == 6
    assert report["fallback_budget"] == 3 and report["tokens"]["input"] == 3000
    assert report["tokens"]["cache_read"] == 21 and report["cost_usd"] == 999e-9


def test_the_conversations_tab_shows_llm_figures_and_blanks_for_scripted_scenarios():
    """web.py imports Locust, which stays out of this process: the tab's LLM cells come
    from the summary's cell builder, checked here."""
    stats = RunStats()
    usage = stats.scenario("LLM").persona_usage
    usage.merge(PersonaUsage(requests=5, cache_hits=7, fallback_failed=1, fallback_budget=2))
    usage.merge(PersonaUsage(input_tokens=900, cache_read_tokens=100, output_tokens=50))
    usage.merge(PersonaUsage(cost_nano_usd=1_234_500))
    stats.scenario("Scripted").add_conversation("max_turns", 0)
    report = RunFigures.model_validate(stats.to_report()).scenarios
    assert llm_cells(report["LLM"].llm) == {
        "llm_requests": "5 (7)",
        "llm_tokens": "1,000 / 50",
        "llm_cost": "0.0012",
        "llm_fallbacks": "3 (failed 1, budget 2)",
    }
    assert set(llm_cells(report["Scripted"].llm).values()) == {""}


def test_the_web_ui_conversations_tab_shows_llm_requests_and_cost(server, tmp_path):
    options = (
        "--scenario", str(scenario_dir(tmp_path, llm=LLM)),
        "--time-scale", str(SCALE),
        "--llm-base-url", server.url,
        "--llm-cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    with web_ui(*options) as (base, process):
        page = wait_for(lambda: http(base + "/"), 30, "the web UI").decode()
        assert "LLM cost $" in page and "Scripted fallbacks" in page
        started = json.loads(http(base + "/swarm", {"user_count": 2, "spawn_rate": 2}))
        assert started["success"], started

        def llm_row():
            stats = json.loads(http(base + "/stats/requests") or b"{}")
            tables = {table["key"]: table["data"] for table in stats.get("extended_stats", [])}
            rows = tables.get("conversations") or [{}]
            return rows[0] if rows[0].get("llm_requests") else None

        row = wait_for(llm_row, 30, "LLM figures in the Conversations tab")
        requests, cached = row["llm_requests"].replace("(", "").replace(")", "").split()
        assert int(requests) >= 1 and int(cached) >= 0
        assert float(row["llm_cost"]) > 0 and row["llm_fallbacks"].startswith("0 ")
        assert http(base + "/stop", {}) is not None
    output = process.stderr.read() + process.stdout.read()
    assert "Traceback" not in output and API_KEY not in output


def test_a_repeated_locust_run_with_the_redis_cache_asks_nothing(server, tmp_path):
    """Conversation ids differ between runs (they hold the pid); the variant a conversation
    plays does not, so the second run is answered from Redis alone."""
    steady = LLM.replace("debounce_s: 1.0", "debounce_s: 3.0").replace(
        "max_turns: 3", "max_turns: 2"
    )
    scenarios = scenario_dir(tmp_path, llm=steady)
    prefix = new_prefix()
    options = ("--llm-base-url", server.url, "--redis-url", REDIS_URL, "--redis-prefix", prefix,
               "--conversations-per-user", "1", "--seed", "5")  # fmt: skip
    try:
        first = run_headless(scenarios, *options, users=3, duration="4s")
        assert first.returncode == 0, first.stderr[-3000:]
        asked = len(server.api.requests)
        assert asked == 6  # 3 conversations x 2 turns
        second = run_headless(scenarios, *options, "--report-dir", str(tmp_path / "r"),
                              users=3, duration="4s")  # fmt: skip
        assert second.returncode == 0, second.stderr[-3000:]
        assert len(server.api.requests) == asked
        llm = json.loads((tmp_path / "r" / "report.json").read_text())["totals"]["llm"]
        assert (llm["requests"], llm["cache_hits"], llm["cost_usd"]) == (0, 6, 0)
    finally:
        asyncio.run(delete_prefix(prefix))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--llm-base-url", "localhost:1"), "expected an http:// or https:// URL"),
        (
            ("--llm-max-retries", "-1"),
            "argument --llm-max-retries: must be from 0 to 1,000,000, got -1",
        ),
    ],
)
def test_bad_llm_options_fail_in_one_clear_line(args, message):
    result = locust("--headless", "-t", "1s", *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]


def run_llm_fleet(
    server, tmp_path, scenario: str, scale: float, duration: str, *extra: str
) -> tuple[dict, list[dict], list[str]]:
    """A real master and two workers, two LLM conversations each: the master's llm
    figures, each worker's own, and the three processes' output (master first)."""
    scenarios = scenario_dir(tmp_path, llm=scenario)
    common = ["--scenario", str(scenarios), "--time-scale", str(scale),
              "--conversations-per-user", "1", "--llm-base-url", server.url, *extra]  # fmt: skip
    with locust_master(
        *common,
        *["-u", "4", "-r", "4", "-t", duration, "--expect-workers", "2", "--only-summary"],
        *["--report-dir", str(tmp_path / "master")],
    ) as running:
        for name in ("w1", "w2"):
            cache = ["--llm-cache-dir", str(tmp_path / name / "c")]
            running.add_worker(*common, "--worker-report-dir", str(tmp_path / name), *cache)
        out, err, worker_outputs = running.finish(timeout=90)
    outputs = [out + err, *worker_outputs]
    assert running.return_codes == [0, 0, 0], outputs[0][-3000:]
    fleet = json.loads((tmp_path / "master" / "report.json").read_text())["totals"]["llm"]
    workers = [
        json.loads(worker_file(tmp_path, name, "report.json").read_text()) for name in ("w1", "w2")
    ]
    return fleet, [w["totals"]["llm"] for w in workers], outputs


def test_a_master_reports_the_llm_figures_of_its_workers_exactly(server, tmp_path):
    """Two workers ask the API; the master's report holds every request and token the
    server answered, and equals the sum of the workers' own reports."""
    two_turns = LLM.replace("max_turns: 3", "max_turns: 2")
    fleet, workers, outputs = run_llm_fleet(server, tmp_path, two_turns, SCALE, "12s")
    served = [seen.usage for seen in server.api.answered]
    assert fleet["requests"] == len(served) == 8  # 4 conversations x 2 turns
    assert fleet["tokens"]["input"] == sum(u["input_tokens"] for u in served)
    assert fleet["tokens"]["output"] == sum(u["output_tokens"] for u in served)
    assert sum(w["requests"] for w in workers) == fleet["requests"]
    assert sum(w["cost_usd"] for w in workers) == pytest.approx(fleet["cost_usd"], abs=1e-9)
    assert all(API_KEY not in output for output in outputs)


# 24 quick turns (about 0.7 s each at scale 0.5): long enough for the master to hear of
# the fleet's spend, every 3 s, and stop it while conversations still go on. The run's 36 s
# leave a machine twice as slow the time to reach the budget before the run ends.
FLEET_LLM = (
    LLM.replace("max_turns: 3", "max_turns: 24")
    .replace(
        "agent: {debounce_s: 1.0, think_time_s: 0.6, reply_parts: 1}",
        "agent: {debounce_s: 0.2, think_time_s: 0.2, reply_parts: 1}",
    )
    .replace("quiet_window: 2.0", "quiet_window: 0.5")
)


def test_the_llm_budget_holds_for_the_whole_fleet_of_workers(server, tmp_path):
    """Unbounded, each worker spends $0.069 here and the two together $0.138. With a
    budget of $0.074 neither worker ever reaches it alone; the master sees the fleet
    reach it and stops both."""
    fleet, workers, outputs = run_llm_fleet(
        server, tmp_path, FLEET_LLM, 0.5, "36s", "--llm-budget-usd", "0.074"
    )
    assert all(w["cost_usd"] < 0.074 for w in workers)
    assert fleet["cost_usd"] >= 0.074
    assert fleet["fallback_budget"] > 0
    assert fleet["fallback_budget"] == sum(w["fallback_budget"] for w in workers)
    assert "the workers together have spent the LLM budget of $0.074" in outputs[0]
