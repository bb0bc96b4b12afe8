"""report.html of real runs, opened in headless Chromium: no console error, every chart
drawn, no request leaving the file, conversations shown as chats with their verdicts,
and texts from the run kept as text. A Locust run (load charts), a ``harness run``
matrix (the heatmap) and an LLM persona's run (tokens and cost)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.anthropic_server import API_KEY, MessagesServer
from tests.support.browser import Opened, opened, screenshot
from tests.support.locust_runs import REPO, read_jsonl, run_headless

JUDGED_BURST = """\
name: Judged Burst
pattern: "C2 A1 C1 A1"
max_turns: 2
persona:
  personality: impatient
  script:
    openers: ["My card is lost."]
    messages: ["Please block it."]
    closings: ["Thanks."]
timing: {inter_message_delays: [[1, 2]], think_time: 0.5}
collect: {first_reply_timeout: 10, quiet_window: 1}
agent: {debounce_s: 1.5, think_time_s: 0.5, reply_parts: 2, replies: ["Card blocked: {messages}"]}
turn_evaluations: [{type: string_contains, value: "blocked"}]
final_evaluations: [{type: conversation_length, min_turns: 2}]
"""
LLM_PERSONA = """\
name: Thinking Customer
pattern: "C1 A"
max_turns: 1
persona:
  engine: llm
  objective: replace a lost card
  multi_message_probability: 0
timing: {think_time: 0.5}
collect: {first_reply_timeout: 5, quiet_window: 0.5}
agent: {debounce_s: 0.5, think_time_s: 0.5, reply_parts: 1}
final_evaluations: [{type: string_contains, value: "card"}]
"""
LOAD_CHARTS = {
    "latency-time",
    "latency-band",
    "premature-time",
    "reply-groups",
    "pause-premature",
    "messages-per-reply",
    "success-scenario",
    "success-personality",
    "outcomes",
    "evaluations",
}


def _harness_run(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "harness.cli", "run", *argv, "--time-scale", "0.05"]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120, env=env)


@pytest.fixture(scope="module")
def load_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("load")
    scenarios = base / "scenarios"
    scenarios.mkdir()
    for shipped in ("card_replacement_judged.yaml", "interruption_pattern.yaml"):
        shutil.copy(REPO / "scenarios" / shipped, scenarios / shipped)
    (scenarios / "judged_burst.yaml").write_text(JUDGED_BURST)
    report = base / "report"
    result = run_headless(
        scenarios, "--report-dir", str(report), users=8, duration="8s", scale=0.05
    )
    assert (report / "report.html").exists(), result.stderr[-2000:]
    return report


@pytest.fixture(scope="module")
def matrix_run(tmp_path_factory) -> Path:
    report = tmp_path_factory.mktemp("matrix") / "report"
    matrix = REPO / "scenarios" / "matrices" / "debounce_vs_pause.yaml"
    result = _harness_run("--matrix", str(matrix), "--report-dir", str(report))
    assert (report / "report.html").exists(), result.stderr[-2000:]
    return report


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("llm")
    (base / "scenarios").mkdir()
    (base / "scenarios" / "llm.yaml").write_text(LLM_PERSONA)
    report = base / "report"
    env = {"PATH": "/usr/bin:/bin", "ANTHROPIC_API_KEY": API_KEY, "HOME": str(base)}
    with MessagesServer() as server:
        result = _harness_run(
            str(base / "scenarios"),
            "--repeat",
            "3",
            "--report-dir",
            str(report),
            "--llm-base-url",
            server.url,
            "--llm-cache-dir",
            str(base / "cache"),
            env=env,
        )
    assert (report / "report.html").exists(), result.stderr[-2000:]
    return report


def _drawn_charts(seen: Opened) -> dict[str, int]:
    """Chart id -> the marks Plotly drew in its SVG (traces, bars, heatmap images),
    once every chart has said it is drawn."""
    page = seen.page
    page.wait_for_function(
        "[...document.querySelectorAll('.chart')].every(c => c.dataset.drawn === 'true')",
        timeout=30_000,
    )
    return page.eval_on_selector_all(
        ".chart",
        """charts => Object.fromEntries(charts.map(chart => [chart.dataset.chart,
            chart.querySelector('svg.main-svg') === null ? 0 :
            chart.querySelectorAll('g.trace path, g.trace .point, g.hm image, g.trace')
                .length]))""",
    )


def _assert_clean(seen: Opened, report: Path) -> None:
    assert seen.errors == []
    assert seen.requests == [(report / "report.html").resolve().as_uri()]


def test_every_chart_of_a_load_run_draws_offline(load_run):
    with opened(load_run / "report.html") as seen:
        drawn = _drawn_charts(seen)
        assert set(drawn) >= LOAD_CHARTS
        assert all(marks > 0 for marks in drawn.values()), drawn
        _assert_clean(seen, load_run)
        for chart in drawn:
            screenshot(seen.page, f"#card-{chart}", f"chart-{chart}")


def test_a_conversation_opens_as_a_chat_with_its_verdicts(load_run):
    transcript = read_jsonl(load_run / "transcripts.jsonl")
    with opened(load_run / "report.html") as seen:
        page = seen.page
        _drawn_charts(seen)
        page.select_option("#filter-scenario", "Judged Burst")
        first = page.locator("#chat-list li").first
        conversation = first.get_attribute("data-conversation")
        first.click()
        said = [
            line
            for line in transcript
            if line["conversation_id"] == conversation and not line.get("action")
        ]
        bubbles = page.locator("#chat-view .bubble")
        assert bubbles.count() == len(said) > 0
        assert bubbles.first.inner_text().startswith(said[0]["text"])
        turns = page.locator("#chat-view .turn")
        assert turns.count() == len({line["turn"] for line in said})
        # each turn's verdict beside it, the final one below
        assert turns.first.locator(".verdict-chip").count() == 1
        assert "final" in page.locator("#chat-view .final").inner_text().lower()
        screenshot(page, "#conversations", "conversation")
        _assert_clean(seen, load_run)


def test_premature_replies_are_marked_where_the_burst_went_on(load_run):
    with opened(load_run / "report.html") as seen:
        page = seen.page
        page.select_option("#filter-scenario", "Interruption Pattern")
        marked = 0
        for item in page.locator("#chat-list li").all()[:10]:
            item.click()
            for bubble in page.locator("#chat-view .bubble.premature").all():
                marked += 1
                assert "premature" in bubble.inner_text()
        # the interruption pattern's long pause is answered before the follow-ups
        assert marked > 0


def test_a_matrix_run_draws_its_grid_as_heatmaps(matrix_run):
    report = json.loads((matrix_run / "report.json").read_text())
    assert len(report["matrix"]["cells"]) == 6
    with opened(matrix_run / "report.html") as seen:
        drawn = _drawn_charts(seen)
        assert drawn["matrix"] > 0 and "latency-time" not in drawn
        heatmaps = seen.page.evaluate(
            "[...document.querySelector('[data-chart=matrix]').data].map(t => t.type)"
        )
        assert heatmaps == ["heatmap", "heatmap"]
        rows = seen.page.locator("table.scenarios tbody tr")
        assert rows.count() == 6 + 1  # a row per combination, and the totals
        assert "no load timeline" in seen.page.locator(".left-out").inner_text()
        _assert_clean(seen, matrix_run)
        screenshot(seen.page, "#card-matrix", "chart-matrix")


def test_llm_tokens_and_cost_are_charted(llm_run):
    with opened(llm_run / "report.html") as seen:
        drawn = _drawn_charts(seen)
        assert drawn["llm"] > 0
        cost = seen.page.evaluate(
            "document.querySelector('[data-chart=llm]').data.find(t => t.yaxis === 'y2').y[0]"
        )
        report = json.loads((llm_run / "report.json").read_text())
        assert cost == report["scenarios"]["Thinking Customer"]["llm"]["cost_usd"] > 0
        _assert_clean(seen, llm_run)
        screenshot(seen.page, "#card-llm", "chart-llm")


def test_texts_from_the_run_stay_text(matrix_run, tmp_path):
    """A message that looks like markup, or like the page's own template markers, is
    shown as it was said: nothing runs, nothing is fetched."""
    copy = tmp_path / "run"
    shutil.copytree(matrix_run, copy)
    planted = '</script><img src="http://127.0.0.1:9/x" onerror="document.title=1"> @@PLOTLY@@'
    lines = read_jsonl(copy / "transcripts.jsonl")
    lines[0]["text"] = planted
    first = lines[0]["conversation_id"]
    with (copy / "transcripts.jsonl").open("w") as out:
        out.writelines(json.dumps(line) + "\n" for line in lines)
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "report", str(copy)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    with opened(copy / "report.html") as seen:
        _drawn_charts(seen)
        seen.page.locator(f"#chat-list li[data-conversation='{first}']").click()
        assert planted in seen.page.locator("#chat-view .bubble").first.inner_text()
        assert not seen.page.title().startswith("1")
        _assert_clean(seen, copy)
