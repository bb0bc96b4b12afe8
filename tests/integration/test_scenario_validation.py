import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import get_args

import pytest

from harness.scenario import ScenarioError, load_scenarios
from harness.scenario.models import PersonalityPreset
from harness.scenario.plans import load_matrix, load_suite

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_shipped_scenarios_are_valid_and_cover_the_required_patterns():
    scenarios = {s.name: s for s in load_scenarios([REPO / "scenarios"])}
    assert len(scenarios) >= 6
    assert scenarios["Rapid Fire Burst"].pattern_text == "C3 A1 C2 A1"
    assert scenarios["Interruption Pattern"].pattern_text == "C1 C2 A1 C1 A2"
    assert scenarios["Realistic Multi-Message"].pattern_text == "C3 A2 C2 A1"
    realistic = scenarios["Realistic Multi-Message"].timing.inter_message_delays
    assert max(hi for _, hi in realistic) == 120
    languages = {s.persona.language for s in scenarios.values()}
    assert {"en", "ru"} <= languages
    personalities = {s.persona.personality for s in scenarios.values()}
    assert personalities == set(get_args(PersonalityPreset))  # every one is used
    seeds = ("Card Replacement", "Account Inquiry", "Loan Application", "Complaint")
    assert set(seeds) | {"General Inquiry", "Быстрый Инвестор"} <= set(scenarios)
    assert scenarios["Быстрый Инвестор"].persona.max_messages_per_turn == 5
    examples = {s.name for s in load_scenarios([REPO / "examples" / "llm"])}
    assert {"Basic Multi-Turn Support", "Complex Customer Persona"} <= examples


def test_every_problem_is_reported_with_its_line(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """\
        name: Bad
        pattern: "A1 C2"
        persona:
          multi_message_probability: 1.5
          trats: {}
        timing:
          inter_message_delays: [[3, 1]]
        collect:
          quiet_window: -1
        """,
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([path])
    lines = sorted(str(p) for p in caught.value.problems)
    assert lines == sorted(
        [
            f"{path}:2: pattern: pattern must start with the client (C), got 'A1'",
            f"{path}:4: persona.multi_message_probability: Input should be less than or equal to 1",
            f"{path}:5: persona.trats: unknown field (check the spelling; `harness schema` "
            "lists the fields)",
            f"{path}:7: timing.inter_message_delays.0: range [3.0, 1.0] must satisfy 0 <= lo <= hi",
            f"{path}:9: collect.quiet_window: Input should be greater than 0",
        ]
    )


def test_cross_field_rules_and_burst_limit(tmp_path):
    path = write(
        tmp_path,
        "limits.yaml",
        """\
        scenarios:
          - name: Too Long
            pattern: "C7 A"
          - name: Raised
            pattern: "C7 A"
            burst_limit: 8
            persona: {max_messages_per_turn: 8}
          - name: Window
            collect: {quiet_window: 10, max_collect: 5}
        """,
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([path])
    problems = caught.value.problems
    assert [(p.line, p.path) for p in problems] == [(2, "scenarios.0"), (9, "scenarios.2.collect")]
    assert "raise burst_limit" in problems[0].message
    assert "max_collect must be at least quiet_window" in problems[1].message


def test_yaml_syntax_errors_and_duplicates_name_the_place(tmp_path):
    broken = write(tmp_path, "a.yaml", "name: A\npattern: [C1\n")
    write(tmp_path, "b.yaml", "name: Same\n")
    write(tmp_path, "c.yaml", "name: Same\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([tmp_path])
    text = str(caught.value)
    assert f"{broken}:3: (yaml):" in text
    assert "duplicate scenario name 'Same', first defined in" in text


def test_time_ranges_accept_a_bare_number(tmp_path):
    path = write(
        tmp_path, "n.yaml", "name: N\ntiming: {think_time: 2, inter_message_delays: [1]}\n"
    )
    (scenario,) = load_scenarios([path])
    assert scenario.timing.think_time == (2.0, 2.0)
    assert scenario.timing.inter_message_delays == [(1.0, 1.0)]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=REPO
    )


def test_validate_command_exit_codes_and_format(tmp_path):
    ok = run_cli("validate", "scenarios")
    assert ok.returncode == 0, ok.stderr
    assert "ok  Rapid Fire Burst  [C3 A1 C2 A1]\n" in ok.stdout
    assert "ok  Card Replacement  [C2 A C1 A]  judged offline\n" in ok.stdout
    llm = write(
        tmp_path, "llm.yaml", "name: L\nfinal_evaluations: [{type: llm_judge, prompt: Solved}]\n"
    )
    assert "judged, needs the LLM judge" in run_cli("validate", str(llm)).stdout
    bad = write(tmp_path, "bad.yaml", "name: X\nmax_turns: 0\n")
    failed = run_cli("validate", str(bad))
    assert failed.returncode == 2
    assert f"{bad}:2: max_turns: Input should be greater than or equal to 1" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_schema_command_prints_the_json_schema():
    result = run_cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert {"persona", "pattern", "timing", "collect", "agent"} <= set(schema["properties"])


def test_schema_command_prints_the_reports_schema_with_report():
    result = run_cli("schema", "--report")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert set(schema["properties"]) == {
        "run",
        "scenarios",
        "totals",
        "load",
        "slo",
        "baseline",
        "matrix",
        "fleet",
    }
    figures = schema["$defs"]["ScenarioFigures"]
    assert figures["additionalProperties"] is False
    expected = {"end_reasons", "latency_ms", "debounce_estimate_s", "llm", "judging", "pass_hat_k"}
    assert expected <= set(figures["properties"])


def test_judging_mistakes_are_reported_at_their_line(tmp_path):
    path = write(
        tmp_path,
        "judged.yaml",
        """\
        name: Judged
        outcomes:
          - {label: resolved, agent_keywords: [done]}
          - {label: resolved, agent_regex: "x"}
          - {label: broken, agent_regex: "(unclosed"}
        termination_conditions:
          - {type: user_is_happy}
          - {type: custom_condition, llm_judge: {prompt: "Done?", threshold: 1.5}}
        final_evaluations:
          - {type: regex_match, pattern: "[a-"}
        judgment: {strategy: threshold}
        agent: {replies: ["Order {order} is fine"]}
        """,
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([path])
    text = "\n".join(sorted(str(p) for p in caught.value.problems))
    assert f"{path}:5: outcomes.2.agent_regex: " in text and "does not compile" in text
    assert f"{path}:7: termination_conditions.0: " in text and "user_is_happy" in text
    assert f"{path}:8: termination_conditions.1.custom_condition.llm_judge.threshold: " in text
    assert f"{path}:10: final_evaluations.0.regex_match.pattern: " in text
    assert f"{path}:11: judgment: " in text and "threshold" in text
    assert f"{path}:12: agent.replies: " in text and "{order}" in text
    label = load_problem(
        tmp_path, "outcomes: [{label: a, agent_keywords: [x]}, {label: a, agent_keywords: [y]}]"
    )
    assert "label 'a' is used twice" in label


def load_problem(tmp_path: Path, line: str) -> str:
    path = write(tmp_path, "one.yaml", f"name: One\n{line}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([path])
    return str(caught.value)


def test_shipped_suites_and_matrices_load():
    sizes = {name: len(load_suite(name)[1]) for name in ("quick", "personality", "stress")}
    assert sizes["quick"] == 3 and sizes["personality"] == 8
    _, difficult = load_suite("difficult_customers")
    assert {s.persona.personality for s in difficult} == {
        "difficult",
        "angry",
        "suspicious",
        "confused",
    }
    matrix, combinations = load_matrix(REPO / "scenarios" / "matrices" / "debounce_vs_pause.yaml")
    assert len(combinations) == matrix.combinations == 6
