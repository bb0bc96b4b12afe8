"""A real Locust master with two real workers on 127.0.0.1: the master's report is the fleet's.

Every user holds a fixed number of conversations (--conversations-per-user) and the run
outlasts them, so nothing is interrupted and the master's figures must equal, exactly,
what the two workers' reference agents logged.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.fleet import Fleet, has_streamed, locust_master
from tests.support.locust_runs import read_jsonl, wait_for, worker_file
from tests.support.scenarios import BATCHED
from tests.support.stop_timing import Lines, seconds_after_run_end

SCENARIO = BATCHED.replace("max_turns: 3", "max_turns: 2") + (
    "outcomes: [{label: quoted, agent_keywords: [You said]}]\n"
    "final_evaluations: [{type: conversation_length, min_turns: 2, max_turns: 2}]\n"
)
USERS, CONVERSATIONS_PER_USER = 6, 2


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("fleet")
    (tmp / "scenarios").mkdir()
    (tmp / "scenarios" / "batched.yaml").write_text(textwrap.dedent(SCENARIO))
    common = ["--scenario", str(tmp / "scenarios"), "--time-scale", "0.1"]
    common += ["--conversations-per-user", str(CONVERSATIONS_PER_USER)]
    with locust_master(
        *common,
        *["-u", str(USERS), "-r", str(USERS), "-t", "6s", "--expect-workers", "2"],
        *["--report-dir", str(tmp / "master"), "--only-summary"],
        *["--expect", "reply_groups_per_burst_max=1"],
    ) as fleet:
        for name in ("w1", "w2"):
            fleet.add_worker(*common, "--worker-report-dir", str(tmp / name))
        out, err, _ = fleet.finish(timeout=60)
    (tmp / "master.out").write_text(out + err)
    assert fleet.return_codes == [0, 0, 0], err[-3000:]
    return tmp


def test_master_report_covers_the_whole_fleet(fleet):
    report = json.loads((fleet / "master" / "report.json").read_text())
    assert report["run"]["workers"] == 2 and report["run"]["users"] == USERS
    totals = report["totals"]
    assert totals["conversations"] == USERS * CONVERSATIONS_PER_USER
    assert totals["conversations_interrupted"] == 0
    assert totals["end_reasons"] == {"max_turns": USERS * CONVERSATIONS_PER_USER}
    workers = [
        json.loads(worker_file(fleet, w, "report.json").read_text())["totals"] for w in ("w1", "w2")
    ]
    assert all(w["conversations"] > 0 for w in workers)  # both workers carried load
    for key in ("conversations", "bursts", "client_messages", "agent_messages", "timeouts"):
        assert totals[key] == sum(w[key] for w in workers), key
    for latency in ("first_reply", "complete_reply", "reply_gap"):
        counts = [w["latency_ms"][latency]["count"] for w in workers]
        assert totals["latency_ms"][latency]["count"] == sum(counts)
    timeline = report["load"]["timeline"]  # the fleet's users, the workers' bursts
    assert max(row["users"] or 0 for row in timeline) == USERS
    assert sum(row["bursts"] for row in timeline) == totals["bursts"]


def test_master_judging_figures_are_the_sum_of_the_workers_conversations(fleet):
    judging = json.loads((fleet / "master" / "report.json").read_text())["totals"]["judging"]
    lines = [
        line
        for w in ("w1", "w2")
        for line in read_jsonl(worker_file(fleet, w, "conversations.jsonl"))
    ]
    assert judging["conversations"] == len(lines) == USERS * CONVERSATIONS_PER_USER
    assert judging["successes"] == sum(line["success"] for line in lines) == len(lines)
    assert judging["outcomes"] == {"quoted": len(lines)}
    assert judging["turns"]["mean"] == sum(line["turns"] for line in lines) / len(lines)
    assert judging["evaluations"]["final.conversation_length"]["passed"] == len(lines)


def test_master_report_equals_what_the_reference_agents_logged(fleet):
    totals = json.loads((fleet / "master" / "report.json").read_text())["totals"]
    batches = [
        b for w in ("w1", "w2") for b in read_jsonl(worker_file(fleet, w, "reference_agent.jsonl"))
    ]
    assert totals["bursts"] == len(batches)  # one batch per burst: the agent batched each
    assert totals["client_messages"] == sum(len(b["received"]) for b in batches)
    assert totals["agent_messages"] == sum(len(b["sent"]) for b in batches)
    assert totals["reply_groups_per_burst"] == {"1": len(batches)}
    assert totals["messages_per_reply"] == {"3": len(batches)}
    assert not any(b["cancelled"] for b in batches)


def test_the_masters_folder_holds_every_workers_lines_exactly_once(fleet):
    """One transcripts.jsonl and one conversations.jsonl for the fleet, streamed by the
    workers: each line of each worker's own copy is there once, and nothing else."""
    master = fleet / "master"
    report = json.loads((master / "report.json").read_text())
    for name in ("transcripts.jsonl", "conversations.jsonl"):
        fleet_lines = sorted(json.dumps(line, sort_keys=True) for line in read_jsonl(master / name))
        own = sorted(
            json.dumps(line, sort_keys=True)
            for w in ("w1", "w2")
            for line in read_jsonl(worker_file(fleet, w, name))
        )
        assert fleet_lines == own and fleet_lines, name
    workers = report["fleet"]["workers"]
    assert len(workers) == 2 and report["fleet"]["lines_missing"] == 0
    assert all(w["status"] == "finished" and w["final_received"] for w in workers.values())
    assert "report.html" in {path.name for path in master.iterdir()}


def test_one_run_id_everywhere_and_a_seed_stream_per_worker(fleet):
    report = json.loads((fleet / "master" / "report.json").read_text())
    run_id = report["run"]["run_id"]
    own = [json.loads(worker_file(fleet, w, "report.json").read_text()) for w in ("w1", "w2")]
    assert {r["run"]["run_id"] for r in own} == {run_id}
    lines = read_jsonl(fleet / "master" / "transcripts.jsonl")
    lines += read_jsonl(fleet / "master" / "conversations.jsonl")
    assert {line["run_id"] for line in lines} == {run_id}
    seeds = {r["run"]["seed"] for r in own}
    assert len(seeds) == 2 and all(seed.startswith("0/worker-") for seed in seeds)


def test_master_prints_the_fleet_summary_and_judges_its_objectives(fleet):
    output = (fleet / "master.out").read_text()
    assert "chatstorm: conversations and batching" in output
    assert "PASS  Batched: reply_groups_per_burst_max = 1.00 (limit 1.00)" in output
    assert "Traceback" not in output
    assert worker_file(fleet, "w1", "transcripts.jsonl").stat().st_size > 0


@contextmanager
def two_workers(tmp_path: Path) -> Iterator[tuple[Fleet, subprocess.Popen]]:
    """A 10 s master of two workers; the first worker, once its lines reach the master."""
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "batched.yaml").write_text(textwrap.dedent(SCENARIO))
    common = ["--scenario", str(tmp_path / "scenarios"), "--time-scale", "0.1"]
    with locust_master(
        *common,
        *["-u", "6", "-r", "6", "-t", "10s", "--only-summary", "--expect-workers", "2"],
        *["--report-dir", str(tmp_path / "master")],
    ) as fleet:
        first, _second = fleet.add_worker(*common), fleet.add_worker(*common)
        streamed = tmp_path / "master" / "transcripts.jsonl"
        wait_for(lambda: has_streamed(streamed, first), 30, "the first worker's lines")
        yield fleet, first


def test_a_worker_killed_mid_run_does_not_hold_the_masters_report(tmp_path):
    """SIGKILL one of two workers mid-run: the master still ends on time and writes the
    fleet's report, with what the killed worker reported before it died."""
    with two_workers(tmp_path) as (fleet, doomed):
        printed = Lines(fleet.master)
        doomed.kill()
        fleet.master.wait(timeout=90)  # stderr is the reader's: read stdout apart
        exited_at = time.time()
        out = fleet.master.stdout.read()
    err = printed.text()
    stop_s = seconds_after_run_end(err, exited_at)
    print(f"stop_s={stop_s:.2f}")  # for the figures: pytest -s
    assert stop_s < 30, err[-3000:]
    assert "Traceback" not in err
    report = json.loads((tmp_path / "master" / "report.json").read_text())
    assert len(report["fleet"]["workers"]) == 2  # both seen (the killed one may not have reported)
    assert report["totals"]["bursts"] > 0
    assert len(report["fleet"]["lost"]) == 1  # named, and the survivor finished
    statuses = sorted(w["status"] for w in report["fleet"]["workers"].values())
    assert statuses == ["finished", "lost"]
    assert "Batched" in out


def test_a_worker_told_to_stop_sends_its_last_lines_and_figures_first(tmp_path):
    """SIGTERM to a worker mid-run (a pod scaled down): it winds down, sends the rest of
    its lines and its last figures, and the master counts it finished, missing nothing."""
    with two_workers(tmp_path) as (fleet, leaving):
        leaving.terminate()
        assert leaving.wait(timeout=30) == 0
        out, err, _ = fleet.finish(timeout=60)
    report = json.loads((tmp_path / "master" / "report.json").read_text())
    statuses = sorted(w["status"] for w in report["fleet"]["workers"].values())
    assert statuses == ["finished", "finished"], err[-3000:]
    assert report["fleet"]["lines_missing"] == 0
    assert "Traceback" not in out + err
