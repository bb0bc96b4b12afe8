"""A real headless Locust run of judged scenarios: a Locust row per judged conversation
(a failure when unsuccessful), conversations.jsonl, the report's judging figures, the
summary's judging table, and a judging objective that decides the exit code."""

from __future__ import annotations

import json
import re

from tests.support.locust_runs import read_jsonl, run_headless, scenario_dir

HELPFUL = """\
name: Helpful
pattern: "C1 A"
max_turns: 3
persona: {multi_message_probability: 0}
timing: {think_time: 0.5}
collect: {first_reply_timeout: 10, quiet_window: 1.0, max_collect: 10}
agent:
  {debounce_s: 0.5, think_time_s: 0.5, reply_parts: 1, replies: ["Your new card is on its way."]}
outcomes: [{label: resolved, agent_keywords: [new card]}]
termination_conditions: [{type: agent_provides_solution}]
expect: {success_rate_min: 1.0}
"""
STUCK = """\
name: Stuck
pattern: "C1 A"
max_turns: 4
persona: {multi_message_probability: 0}
timing: {think_time: 0.5}
collect: {first_reply_timeout: 10, quiet_window: 1.0, max_collect: 10}
agent:
  {debounce_s: 0.5, think_time_s: 0.5, reply_parts: 1, replies: ["Sorry, I do not follow."]}
termination_conditions: [{type: conversation_stuck}]
expect: {success_rate_min: 0.5}
"""


def test_judged_conversations_in_a_locust_run(tmp_path):
    scenarios = scenario_dir(tmp_path, helpful=HELPFUL, stuck=STUCK)
    report_dir = tmp_path / "report"
    result = run_headless(
        scenarios,
        "--report-dir",
        str(report_dir),
        "--conversations-per-user",
        "2",
        users=4,
        duration="4s",
    )
    assert result.returncode == 3, result.stderr[-3000:]  # Stuck's objective fails
    report = json.loads((report_dir / "report.json").read_text())
    lines = read_jsonl(report_dir / "conversations.jsonl")
    judged = {name: figures["judging"] for name, figures in report["scenarios"].items()}
    assert sum(j["conversations"] for j in judged.values()) == len(lines) > 0
    helpful = judged["Helpful"]
    assert helpful["success_rate"] == 1.0 and helpful["outcomes"] == {
        "resolved": helpful["conversations"]
    }
    stuck = judged["Stuck"]
    assert stuck["success_rate"] == 0.0 and stuck["blame"] == {"agent": stuck["conversations"]}
    timeline = report["load"]["timeline"]  # quality under load: what was said, per window
    assert sum(window["judged"] for window in timeline) == len(lines)
    assert sum(w["outcomes"].get("resolved", 0) for w in timeline) == helpful["conversations"]
    for line in lines:
        expected = (
            "agent_provides_solution" if line["scenario"] == "Helpful" else "conversation_stuck"
        )
        assert line["end_reason"] == expected
    for name, figures in judged.items():  # Locust's request table: a row per conversation
        row = re.search(rf"^conversation\s+{name}\s+(\d+)\s+(\d+)", result.stderr, re.MULTILINE)
        failed = figures["conversations"] - figures["successes"]
        assert row and (int(row[1]), int(row[2])) == (figures["conversations"], failed), name
    assert "Unsuccessful('ended: conversation_stuck')" in result.stderr
    out = result.stdout
    assert "what the agent said" in out and "resolved" in out
    assert "FAIL  Stuck: success_rate_min = 0.00% (at least 50.00%)" in out
    assert "PASS  Helpful: success_rate_min = 100.00% (at least 100.00%)" in out


JUDGED_BY_LLM = HELPFUL.replace(
    "termination_conditions: [{type: agent_provides_solution}]",
    'final_evaluations: [{type: llm_judge, prompt: "Was the card replaced?"}]',
)


def test_a_run_that_needs_the_judge_without_a_key_stops_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    scenarios = scenario_dir(tmp_path, judged=JUDGED_BY_LLM)
    result = run_headless(scenarios, users=1, duration="2s")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "chatstorm: scenario 'Helpful' needs the LLM judge" in result.stderr
    assert "--no-judge" in result.stderr
    skipping = run_headless(
        scenarios, "--no-judge", "--conversations-per-user", "1", "--expect", "success_rate_min=1"
    )
    assert skipping.returncode == 0, skipping.stdout[-3000:]  # judged offline, LLM skipped
