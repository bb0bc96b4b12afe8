"""Real Locust runs in subprocesses: headless with a report, failures, bad input, the web UI."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

from harness.report.model import LiveView, Report
from tests.support.locust_runs import (
    LOCUST,
    REPO,
    http,
    locust,
    read_jsonl,
    run_headless,
    scenario_dir,
    wait_for,
    web_ui,
)
from tests.support.scenarios import BATCHED
from tests.support.stop_timing import Lines

SCALE = 0.1  # pauses of 40 ms against a 100 ms debounce: a stalled loop does not blur them

PREMATURE = """\
name: Premature
pattern: "C3 A2"
max_turns: 3
persona: {multi_message_probability: 0}
timing: {inter_message_delays: [6.0, 0.4], think_time: 0.5}
collect: {first_reply_timeout: 20, quiet_window: 4.0, max_collect: 30}
agent: {debounce_s: 1.0, think_time_s: 0.6, reply_parts: 2, part_gap_s: 0.3}
"""
SILENT = """\
name: Silent
pattern: "C1 A"
max_turns: 2
collect: {first_reply_timeout: 1, quiet_window: 1, max_collect: 2}
agent: {think_time_s: 1000}
"""


@pytest.fixture(scope="module")
def headless(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    tmp_path = tmp_path_factory.mktemp("headless")
    scenarios = scenario_dir(tmp_path, batched=BATCHED, premature=PREMATURE)
    report = tmp_path / "report"
    result = run_headless(
        scenarios, "--report-dir", str(report), "--seed", "7", users=8, duration="4s"
    )
    return result, tmp_path


def test_headless_run_exits_cleanly_and_prints_the_batching_summary(headless):
    result, _ = headless
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "chatstorm: conversations and batching" in result.stdout
    assert f"time_scale={SCALE}" in result.stdout
    # Two scenarios, two agents: the totals carry no debounce bracket of their own.
    total = next(line for line in result.stdout.splitlines() if "Total" in line)
    assert "per" in total and not re.search(r"\d \.\. ", total)  # "per scenario", maybe wrapped
    # Locust's own table (logged to stderr) carries our request rows.
    for row in ("first_reply", "complete_reply", "reply_gap", "send"):
        for name in ("Batched", "Premature"):
            assert re.search(rf"^{row}\s+{name}\s", result.stderr, re.MULTILINE), (row, name)


def test_report_has_every_documented_field(headless):
    _, tmp_path = headless
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    Report.model_validate(report)  # the contract `harness schema --report` publishes
    assert report["run"]["transport"] == "mock"
    assert report["run"]["time_scale"] == SCALE
    assert report["run"]["seed"] == "7"
    lag = report["run"]["loop_lag_ms"]  # the harness's own delay, sampled all run long
    assert lag["count"] > 100 and lag["p50"] < 5 and lag["overloaded_windows"] >= 0
    for figures in (*report["scenarios"].values(), report["totals"]):
        for key in (
            "conversations",
            "bursts",
            "client_messages",
            "agent_messages",
            "timeouts",
            "late_replies",
            "premature_bursts",
            "reply_groups_per_burst",
            "messages_per_reply",
        ):
            assert key in figures, key
        for latency in ("first_reply", "complete_reply", "reply_gap"):
            assert set(figures["latency_ms"][latency]) == {"count", "p50", "p95", "p99", "max"}
        assert set(figures["debounce_estimate_s"]) == {
            "max_pause_without_premature",
            "min_pause_with_premature",
            "bursts_sampled",
        }
    assert set(report["scenarios"]) == {"Batched", "Premature"}


def test_report_figures_match_the_reference_agent(headless):
    _, tmp_path = headless
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    batched, premature = report["scenarios"]["Batched"], report["scenarios"]["Premature"]
    assert batched["bursts"] > 0 and premature["bursts"] > 0
    assert batched["reply_groups_per_burst"] == {"1": batched["bursts"]}
    assert batched["messages_per_reply"] == {"3": batched["bursts"]}
    assert batched["premature_bursts"] == 0
    assert premature["reply_groups_per_burst"] == {"2": premature["bursts"]}
    assert premature["premature_messages"] == 2 * premature["bursts"]
    # debounce 1.0 + think 0.6 scenario seconds; then two more parts 0.3 apart.
    first_ms, complete_ms = 1.6 * SCALE * 1000, 2.2 * SCALE * 1000
    assert batched["latency_ms"]["first_reply"]["p50"] == pytest.approx(first_ms, abs=8)
    assert batched["latency_ms"]["complete_reply"]["p50"] == pytest.approx(complete_ms, abs=8)
    estimate = premature["debounce_estimate_s"]
    debounce = 1.0 * SCALE
    assert estimate["max_pause_without_premature"] < debounce < estimate["min_pause_with_premature"]


def test_transcripts_agree_with_the_agent_log_message_by_message(headless):
    _, tmp_path = headless
    transcripts = read_jsonl(tmp_path / "report" / "transcripts.jsonl")
    batches = read_jsonl(tmp_path / "report" / "reference_agent.jsonl")
    assert {"conversation_id", "scenario", "persona", "turn", "role", "text", "time"} <= set(
        transcripts[0]
    )
    logged: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for batch in batches:
        logged[batch["chat_id"], "client"].extend(batch["received"])
        logged[batch["chat_id"], "agent"].extend(batch["sent"])
    seen: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for line in transcripts:
        seen[line["conversation_id"], line["role"]].append(line)
    assert seen
    for key, lines in seen.items():
        truth = sorted(logged[key], key=lambda m: m["t_s"])
        if key[1] == "client":  # every message sent was received and logged
            assert len(lines) == len(truth)
        else:  # replies to an interrupted last burst were never collected
            assert len(lines) <= len(truth)
        for line, message in zip(lines, truth, strict=False):
            assert line["text"] == message["text"]
            assert line["t_s"] == pytest.approx(message["t_s"], abs=0.003)


def test_locust_table_counts_equal_the_report(headless):
    result, tmp_path = headless
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    for name, figures in report["scenarios"].items():
        expected = {
            "first_reply": figures["latency_ms"]["first_reply"]["count"],
            "complete_reply": figures["latency_ms"]["complete_reply"]["count"],
            "reply_gap": figures["latency_ms"]["reply_gap"]["count"],
            "send": figures["client_messages"],
        }
        for row, count in expected.items():
            match = re.search(rf"^{row}\s+{name}\s+(\d+)\s", result.stderr, re.MULTILINE)
            assert match and int(match.group(1)) == count, (row, name)


def test_timeouts_are_locust_failures_and_set_the_exit_code(tmp_path):
    scenarios = scenario_dir(tmp_path, silent=SILENT)
    report = tmp_path / "report"
    result = run_headless(scenarios, "--report-dir", str(report), users=2, duration="2s", scale=0.1)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "no agent reply within 1 s" in result.stdout + result.stderr
    figures = json.loads((report / "report.json").read_text())["scenarios"]["Silent"]
    assert figures["timeouts"] == figures["bursts"] > 0
    assert figures["latency_ms"]["first_reply"]["count"] == 0


def test_invalid_scenarios_stop_locust_with_file_and_line(tmp_path):
    scenarios = scenario_dir(tmp_path, broken="name: Broken\npattern: C3\n")
    result = locust("--headless", "-u", "1", "-t", "1s", "--scenario", str(scenarios))
    assert result.returncode == 2
    assert f"{scenarios / 'broken.yaml'}:2: pattern: pattern has no agent step" in result.stderr
    assert "Traceback" not in result.stderr


def test_web_ui_runs_the_same_thing_interactively(tmp_path):
    scenarios = scenario_dir(tmp_path, batched=BATCHED, premature=PREMATURE)
    with web_ui("--scenario", str(scenarios), "--time-scale", str(SCALE)) as (base, process):
        page = wait_for(lambda: http(base + "/"), 30, "the web UI").decode()
        assert "Batched" in page and "Premature" in page  # one selectable class per scenario
        started = json.loads(
            http(base + "/swarm", {"user_count": 4, "spawn_rate": 4, "user_classes": ["Batched"]})
        )
        assert started["success"], started

        def batched_replies():
            stats = json.loads(http(base + "/stats/requests") or b"{}")
            rows = {(s["method"], s["name"]): s for s in stats.get("stats", [])}
            row = rows.get(("first_reply", "Batched"))
            return stats if row and row["num_requests"] >= 4 else None

        stats = wait_for(batched_replies, 30, "first_reply rows in the web UI")
        names = {s["name"] for s in stats["stats"]}
        assert "Premature" not in names  # only the picked scenario ran
        # The Conversations and Transcripts tabs, fed by the same poll.
        assert "Conversations" in page and "Transcripts" in page
        extended = {table["key"]: table["data"] for table in stats["extended_stats"]}
        (row,) = extended["conversations"]
        assert row["scenario"] == "Batched" and row["active"] == 4
        assert row["bursts"] >= 4 and row["groups_per_burst"] == "1.00"
        assert {line["who"] for line in extended["transcripts"]} == {"👤 user", "🤖 agent"}
        live = json.loads(http(base + "/chatstorm/stats"))
        assert live["scenarios"]["Batched"]["bursts"] >= row["bursts"]
        assert live["recent"] and live["recent"][-1]["scenario"] == "Batched"
        transport = LiveView.model_validate(live).transport  # its silence and outages too
        assert transport["silent"] is False and transport["unreachable"] == {}
        assert 0 <= transport["waiting_on_transport"] <= 4
        assert http(base + "/stop", {}) is not None
    assert "Traceback" not in process.stderr.read()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--report-dir", "{blocker}/reports"),
            "cannot write reports to {blocker}/reports: "
            "Not a directory; choose a writable folder with --report-dir",
        ),
        (("--time-scale", "0"), "argument --time-scale: must be greater than 0, got 0"),
        (("--transport", "carrier-pigeon"), "argument --transport: invalid choice"),
        (
            ("--scenario", "{blocker}/missing"),
            "{blocker}/missing:1: (file): no such file or folder",
        ),
    ],
)
def test_bad_options_fail_in_one_clear_line(tmp_path, args, message):
    blocker = tmp_path / "file"
    blocker.write_text("")
    filled = [arg.format(blocker=blocker) for arg in args]
    result = locust("--headless", "-u", "1", "-t", "1s", *filled, timeout=30)
    assert result.returncode == 2
    assert message.format(blocker=blocker) in result.stderr
    assert "Traceback" not in result.stderr


def test_objectives_decide_the_exit_code_both_ways(tmp_path):
    expect_ok = BATCHED + "expect: {first_reply_p95_ms: 500, reply_groups_per_burst_max: 1.0}\n"
    scenarios = scenario_dir(tmp_path, batched=expect_ok)
    passing = run_headless(scenarios)
    assert passing.returncode == 0, passing.stdout[-2000:]
    assert "PASS  Batched: first_reply_p95_ms = " in passing.stdout
    assert "Objectives: 2 passed, 0 failed" in passing.stdout
    failing = run_headless(scenarios, "--expect", "first_reply_p95_ms=20")  # 80 ms: too slow
    assert failing.returncode == 3
    assert "FAIL  Batched: first_reply_p95_ms = " in failing.stdout
    assert "(limit 20 ms)" in failing.stdout


def test_objectives_that_tolerate_timeouts_override_locusts_failure_exit(tmp_path):
    scenarios = scenario_dir(tmp_path, silent=SILENT + "expect: {timeout_rate_max: 1.0}\n")
    result = run_headless(scenarios, users=2, duration="2s", scale=0.1)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "PASS  Silent: timeout_rate_max = 100.00% (limit 100.00%)" in result.stdout


def test_a_load_shape_drives_the_run_and_the_report_shows_quality_under_load(tmp_path):
    scenarios = scenario_dir(tmp_path, batched=BATCHED)
    report_dir = tmp_path / "report"
    shape = "--shape step --shape-steps 2 --shape-duration 4s -u 6 -r 50"  # no --run-time:
    result = locust(  # the shape ends the run
        "--headless",
        *shape.split(),
        "--scenario",
        str(scenarios),
        "--time-scale",
        str(SCALE),
        "--report-dir",
        str(report_dir),
        "--only-summary",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((report_dir / "report.json").read_text())
    load = report["load"]
    assert load["window_s"] == 10 and load["timeline"]
    # A window may hold bursts but no sample of the user count (None): none fell in it.
    assert max(row["users"] or 0 for row in load["timeline"]) == 6
    assert sum(row["bursts"] for row in load["timeline"]) == report["totals"]["bursts"]
    assert sum(band["bursts"] for band in load["bands"]) == report["totals"]["bursts"]


def test_a_shape_without_a_duration_is_refused_in_one_line(tmp_path):
    result = locust("--headless", "-u", "5", "--shape", "ramp", timeout=30)
    assert result.returncode == 2
    assert "chatstorm: --shape ramp needs --shape-duration or --run-time" in result.stderr
    assert "Traceback" not in result.stderr


def test_locusts_own_csv_html_and_json_carry_our_rows(tmp_path):
    scenarios = scenario_dir(tmp_path, batched=BATCHED)
    result = run_headless(
        scenarios,
        "--csv",
        str(tmp_path / "run"),
        "--html",
        str(tmp_path / "run.html"),
        "--json-file",
        str(tmp_path / "run"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    stats = json.loads((tmp_path / "run.json").read_text())
    rows = {(s["method"], s["name"]): s["num_requests"] for s in stats}
    assert rows[("first_reply", "Batched")] > 0 and rows[("complete_reply", "Batched")] > 0
    assert "first_reply,Batched" in (tmp_path / "run_stats.csv").read_text()
    assert "first_reply" in (tmp_path / "run.html").read_text()


def test_a_run_ends_once_every_user_has_held_its_conversations(tmp_path):
    """--conversations-per-user: the run ends when the last user is done, the way -t
    would end it, not at -t (two minutes here)."""
    scenarios = scenario_dir(tmp_path, batched=BATCHED)
    report_dir = tmp_path / "report"
    result = run_headless(
        scenarios,
        *["--conversations-per-user", "2", "--report-dir", str(report_dir)],
        users=3,
        duration="120s",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((report_dir / "report.json").read_text())
    totals = report["totals"]
    assert (totals["conversations"], totals["conversations_interrupted"]) == (6, 0)
    assert "every user held its 2 conversation(s): the run ends" in result.stderr
    assert report["run"]["duration_s"] < 60, "the run went on after its users were done"


def test_processes_aggregate_into_one_report_with_a_folder_per_worker(tmp_path):
    """A master and two workers (--processes); the master ends the run once the fleet's
    users are all done, long before -t."""
    scenarios = scenario_dir(tmp_path, batched=BATCHED)
    report_dir, own = tmp_path / "report", tmp_path / "own"
    result = run_headless(
        scenarios,
        "--processes",
        "2",
        "--conversations-per-user",
        "1",
        "--report-dir",
        str(report_dir),
        "--worker-report-dir",
        str(own),
        users=6,
        duration="120s",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((report_dir / "report.json").read_text())
    assert report["run"]["duration_s"] < 60, "the run went on after its users were done"
    folders = sorted(p.name for p in own.iterdir())
    assert report["run"]["workers"] == 2, (folders, result.stderr[-4000:])
    totals = report["totals"]
    assert (totals["conversations"], totals["conversations_interrupted"]) == (6, 0)
    workers = [json.loads(p.read_text()) for p in own.glob("*/report.json")]
    assert len(workers) == 2  # processes sharing a folder: one folder each
    assert report["totals"]["bursts"] == sum(w["totals"]["bursts"] for w in workers) > 0
    # Each worker's own report covers its whole run, not only what it sent last.
    lag_samples = [w["run"]["loop_lag_ms"]["count"] for w in workers]
    assert sum(lag_samples) >= report["run"]["loop_lag_ms"]["count"] > 0
    said = read_jsonl(report_dir / "transcripts.jsonl")  # the fleet's, in one file
    assert len(said) == sum(len(read_jsonl(p)) for p in own.glob("*/transcripts.jsonl")) > 0


def test_no_garbage_collection_while_users_spawn_and_rare_collections_after(tmp_path):
    """Full collections while the heap grew stopped the process for 50-150 ms just as the
    measured run began; spawning runs with the collector off, then freezes and resumes."""
    probe = REPO / "tests" / "e2e" / "probes" / "gc_probe.py"
    scenarios = scenario_dir(tmp_path, batched=BATCHED)
    result = run_headless(scenarios, users=300, duration="4s", locustfile=probe)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["while_spawning"] == 0, seen
    assert seen["enabled_after"] is True
    assert seen["rare_after"] is True


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_still_writes_the_report_and_counts_the_interrupted(tmp_path, stop):
    """Ctrl-C (SIGINT) or a container's stop (SIGTERM) ends a headless run at once: the
    report and the transcripts up to that moment are written whole, and the conversations
    cut off are counted as interrupted."""
    scenarios = scenario_dir(tmp_path, batched=BATCHED)
    report = tmp_path / "report"
    process = subprocess.Popen(
        [
            *LOCUST,
            *[
                "--headless",
                "-u",
                "8",
                "-r",
                "8",
                "-t",
                "120s",
                "--only-summary",
                "--time-scale",
                "0.1",
            ],
            "--scenario",
            str(scenarios),
            "--report-dir",
            str(report),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    transcripts = report / "transcripts.jsonl"
    printed = Lines(process)
    try:
        # Signalled once every user runs and lines are on disk: a signal while Locust is
        # still spawning (the first flush comes about a second in, as spawning ends) is
        # another race than the one under test.
        printed.wait_for("All users spawned", 30)
        wait_for(lambda: transcripts.exists() and transcripts.stat().st_size, 30, "a transcript")
        signalled = time.monotonic()
        process.send_signal(stop)
        process.wait(timeout=30)  # stderr is the reader's: read stdout apart
        stop_s = time.monotonic() - signalled
        out, err = process.stdout.read(), printed.text()
        print(f"stop_s={stop_s:.2f}")  # for the figures: pytest -s
        assert stop_s < 30
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    totals = json.loads((report / "report.json").read_text())["totals"]
    assert totals["conversations_interrupted"] >= 1, totals
    lines = read_jsonl(transcripts)  # every line whole
    assert len(lines) >= totals["client_messages"] + totals["agent_messages"] > 0, totals
    assert "Batched" in out  # the summary was printed


def test_the_web_ui_listens_on_this_machine_only_unless_told_otherwise(tmp_path):
    """Locust's own default is every interface; chatstorm's is 127.0.0.1."""
    scenarios = scenario_dir(tmp_path, batched=BATCHED)
    with web_ui("--scenario", str(scenarios)) as (url, _process):
        port = int(url.rsplit(":", 1)[1])

        def listening_on() -> list[str]:
            rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
            rows += Path("/proc/net/tcp6").read_text().splitlines()[1:]
            local = [row.split()[1] for row in rows if row.split()[3] == "0A"]  # LISTEN
            return [address for address, found in (a.split(":") for a in local)
                    if int(found, 16) == port]  # fmt: skip

        addresses = wait_for(listening_on, 30, "the web UI to listen")
    assert addresses == ["0100007F"], addresses  # 127.0.0.1, nothing else
