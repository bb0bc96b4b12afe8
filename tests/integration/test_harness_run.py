"""``harness run`` against the reference agent (and an LLM persona against the local
Messages API): exactly the requested conversations, judged; exit codes 0, 1, 2, 3;
pass^k exact on a scenario built to succeed 3 times in 5; progress lines in a pipe."""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from harness.cli.main import app
from harness.cli.run import run
from tests.fakes.anthropic_server import MessagesServer

REPO = Path(__file__).resolve().parents[2]
# Every conversation picks its topic from the seed; the agent echoes it; the evaluation
# wants "card". With --seed 0, conversations 1, 2 and 5 of 5 pick it: 3 successes in 5.
COIN = """\
name: Coin
pattern: "C1 A"
max_turns: 1
persona:
  multi_message_probability: 0
  script:
    openers: ["I need help with my {topic}."]
    closings: ["I need help with my {topic}."]
    slots: {topic: [card, loan]}
timing: {think_time: 0.5}
collect: {first_reply_timeout: 5, quiet_window: 0.5, max_collect: 5}
agent: {debounce_s: 0.5, think_time_s: 0.5, reply_parts: 1, replies: ["About: {messages}"]}
final_evaluations: [{type: string_contains, value: card}]
"""
STEADY = COIN.replace("Coin", "Steady").replace("[card, loan]", "[card]")


def scenarios(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(textwrap.dedent(text))
    return folder


def harness_run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run([*argv, "--time-scale", "0.05"], Console(file=out, width=200))
    return code, out.getvalue()


def test_every_conversation_succeeding_exits_0_and_reports(tmp_path):
    report_dir = tmp_path / "report"
    folder = scenarios(tmp_path, steady=STEADY)
    code, out = harness_run(str(folder), "--repeat", "4", "--report-dir", str(report_dir))
    assert code == 0, out
    report = json.loads((report_dir / "report.json").read_text())
    steady = report["scenarios"]["Steady"]
    assert steady["judging"]["conversations"] == 4 == steady["conversations"]
    assert steady["pass_hat_k"] == {"1": 1.0, "2": 1.0, "3": 1.0, "4": 1.0}
    lines = (report_dir / "conversations.jsonl").read_text().splitlines()
    assert len(lines) == 4 and (report_dir / "transcripts.jsonl").exists()


def test_pass_hat_k_is_exact_and_failures_without_objectives_exit_1(tmp_path):
    code, out = harness_run(str(scenarios(tmp_path, coin=COIN)), "--repeat", "5", "--seed", "0")
    assert code == 1, out
    assert "60.0%" in out and "^1 0.60 · ^5 0.00" in out and "flaky (3/5)" in out
    for conversation in ("Coin#3", "Coin#4"):
        assert f"{conversation}: final.string_contains: no 'card'" in out
    report_dir = tmp_path / "report"
    harness_run(str(tmp_path / "scenarios"), "--repeat", "5", "--report-dir", str(report_dir))
    pass_hat_k = json.loads((report_dir / "report.json").read_text())["scenarios"]["Coin"][
        "pass_hat_k"
    ]
    assert pass_hat_k == {str(k): round(math.comb(3, k) / math.comb(5, k), 6) for k in range(1, 6)}


def test_a_failed_objective_exits_3(tmp_path):
    folder = scenarios(tmp_path, coin=COIN)
    code, out = harness_run(str(folder), "--repeat", "5", "--min-success-rate", "0.8")
    assert code == 3, out
    assert "FAIL  all scenarios: success_rate_min = 60.00% (at least 80.00%)" in out
    code, _ = harness_run(str(folder), "--repeat", "5", "--min-success-rate", "0.6")
    assert code == 0


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--repeat", "0"], "must be from 1"),
        (["--transport", "botapi"], "--transport botapi needs the bot's token"),
        (["missing-folder"], "no such file or folder"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, said):
    folder = scenarios(tmp_path, steady=STEADY)
    with pytest.raises(SystemExit) as exited:  # argparse's own exit, or ours
        raise SystemExit(harness_run(str(folder), *argv)[0])
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def test_an_llm_persona_plays_through_the_local_messages_api(tmp_path, server: MessagesServer):
    llm = STEADY.replace(
        "multi_message_probability: 0", "engine: llm\n  multi_message_probability: 0"
    )
    folder = scenarios(tmp_path, llm=llm)
    code, out = harness_run(
        str(folder), "--llm-base-url", server.url, "--llm-cache-dir", str(tmp_path / "cache")
    )
    assert len(server.api.answered) == 1  # one turn, one request
    assert "Steady#1" in out and code in (0, 1)  # the model's words decide, not the run


def test_progress_is_a_line_per_conversation_in_a_pipe(tmp_path):
    folder = scenarios(tmp_path, coin=COIN)
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(folder), "--repeat", "5"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in lines] == [f"[{n}/5" for n in range(1, 6)]
    assert sum(" ok " in line for line in lines) == 3


def test_a_suite_runs_its_scenarios_under_its_personalities(tmp_path):
    folder = scenarios(tmp_path, steady=STEADY, coin=COIN)
    suites = folder / "suites"
    suites.mkdir()
    (suites / "mine.yaml").write_text(
        textwrap.dedent(
            """\
            name: mine
            scenarios: [../steady.yaml]
            personalities: [angry, elderly]
            repeat: 2
            min_success_rate: 1.0
            """
        )
    )
    report_dir = tmp_path / "report"
    code, out = harness_run("--suite", str(suites / "mine.yaml"), "--report-dir", str(report_dir))
    assert code == 0, out
    report = json.loads((report_dir / "report.json").read_text())
    assert sorted(report["scenarios"]) == [
        "Steady (persona.personality=angry)",
        "Steady (persona.personality=elderly)",
    ]
    lines = [json.loads(line) for line in (report_dir / "conversations.jsonl").open()]
    assert sorted(line["personality"] for line in lines) == ["angry", "angry", "elderly", "elderly"]
    assert "PASS  all scenarios: success_rate_min" in out  # the suite's own objective


def test_a_matrix_is_a_row_per_combination_and_a_huge_one_is_refused(tmp_path, capsys):
    folder = scenarios(tmp_path, coin=COIN)
    matrix = tmp_path / "grid.yaml"
    matrix.write_text(
        textwrap.dedent(
            """\
            name: grid
            base: scenarios/coin.yaml
            parameters:
              persona.personality: [normal, angry]
              agent.debounce_s: [0.3, 0.5, 0.7]
            runs_per_combination: 1
            """
        )
    )
    report_dir = tmp_path / "report"
    harness_run("--matrix", str(matrix), "--report-dir", str(report_dir))
    rows = json.loads((report_dir / "report.json").read_text())["scenarios"]
    assert len(rows) == 6
    assert "Coin (persona.personality=angry, agent.debounce_s=0.7)" in rows
    assert folder.exists()
    code, _ = harness_run("--matrix", str(matrix), "--max-combinations", "5")
    assert code == 2
    assert "6 combinations, over the limit of 5" in capsys.readouterr().err


def test_a_run_against_its_baseline_fails_on_a_regression(tmp_path, capsys):
    good, worse = tmp_path / "good", tmp_path / "worse"
    good.mkdir()
    worse.mkdir()
    (good / "coin.yaml").write_text(COIN.replace("[card, loan]", "[card]"))
    (worse / "coin.yaml").write_text(COIN)
    before = tmp_path / "before"
    assert harness_run(str(good), "--repeat", "5", "--report-dir", str(before))[0] == 0
    baseline = str(before / "report.json")
    code, out = harness_run(str(worse), "--repeat", "5", "--baseline", baseline)
    assert code == 1, out  # shown, not failing: no --fail-on-regression
    row = r"Coin[\s│]+success_rate[\s│]+100\.0%[\s│]+60\.0%[\s│]+-40\.0%[\s│]+worse"
    assert re.search(row, out), out
    stored = tmp_path / "stored"
    harness_run(str(worse), "--repeat", "5", "--baseline", baseline, "--report-dir", str(stored))
    changes = json.loads((stored / "report.json").read_text())["baseline"]
    success = next(c for c in changes if c["figure"] == "success_rate")
    assert (success["before"], success["after"], success["regressed"]) == (1.0, 0.6, True)
    failing = ("--baseline", baseline, "--fail-on-regression")
    assert harness_run(str(worse), "--repeat", "5", *failing)[0] == 3
    lenient = (
        "--regression-tolerance",
        "success_rate=0.5",
        "--regression-tolerance",
        "pass_hat_k=1",
    )
    assert harness_run(str(worse), "--repeat", "5", *failing, *lenient)[0] == 1
    assert harness_run(str(worse), "--baseline", str(tmp_path / "nope.json"))[0] == 2
    assert "cannot read the baseline" in capsys.readouterr().err


def test_regrade_judges_a_finished_run_again_with_new_criteria(tmp_path, capsys):
    report_dir = tmp_path / "report"
    folder = scenarios(tmp_path, coin=COIN)
    harness_run(str(folder), "--repeat", "5", "--report-dir", str(report_dir))
    stricter = tmp_path / "now" / "coin.yaml"
    stricter.parent.mkdir()
    stricter.write_text(COIN.replace("value: card", "value: loan"))  # the rubric changed
    with pytest.raises(SystemExit) as exited:
        app(["regrade", str(report_dir), str(stricter)])
    assert exited.value.code == 0
    before = json.loads((report_dir / "report.json").read_text())["scenarios"]["Coin"]
    after = json.loads((report_dir / "regraded" / "report.json").read_text())["scenarios"]["Coin"]
    assert before["judging"]["successes"] == 3 and after["judging"]["successes"] == 2
    assert after["pass_hat_k"]["1"] == 0.4 and after["bursts"] == before["bursts"]
    lines = (report_dir / "regraded" / "conversations.jsonl").read_text().splitlines()
    assert len(lines) == 5
    assert "regraded 5 conversations" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        app(["regrade", str(tmp_path / "nowhere"), str(stricter)])
    assert exited.value.code == 2
    assert "regrading needs a run's report folder" in capsys.readouterr().err
