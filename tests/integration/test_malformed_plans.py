"""Thousands of generated scenario, suite and matrix documents (wrong types, missing and
extra keys, huge numbers, NaN and infinities, keys given twice, deep nesting, unicode,
binary, anchors and aliases, empty files): each one loads, or is refused with
``file:line: field: message`` problems at a real line, never an exception, and quickly.

Time is CPU time of this process, so a machine that stalls cannot fail the test; a
document that makes the loader work (a billion-laughs expansion) still does."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.scenario import ScenarioError, load_scenarios
from harness.scenario.plans import load_matrix, load_suite

PROBLEM = re.compile(r"^.+:(\d+): \S.*: .+$", re.S)
CPU_S = 1.0
FIELDS = [
    "name", "pattern", "persona", "timing", "collect", "agent", "max_turns", "weight",
    "personality", "think_time", "inter_message_delays", "script", "openers", "messages",
    "slots", "first_reply_timeout", "quiet_window", "debounce_s", "replies", "goals",
    "outcomes", "final_evaluations", "turn_evaluations", "type", "value", "min_turns",
    "scenarios", "personalities", "repeat", "concurrency", "expect", "base", "parameters",
    "runs_per_combination", "multi_message_probability", "engine", "language", "label",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["C1 A", "C3 A1 C2 A1", "A C", "C0", "C1 A" * 50, "normal", "angry", "llm"]),
)
KEYS = st.one_of(st.sampled_from(FIELDS), st.text(max_size=8))
TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(KEYS, children, max_size=6)
    ),
    max_leaves=40,
)
DOCUMENTS = st.dictionaries(KEYS, TREES, max_size=8)


def _mutations(text: str) -> st.SearchStrategy[bytes]:
    """The document as written, and broken in the ways people and tools break files."""
    lines = text.splitlines(keepends=True)
    return st.sampled_from(
        [
            text.encode(),
            (text + (lines[0] if lines else "name: x\n")).encode(),  # a key given twice
            text.encode()[: len(text) // 2],  # cut short
            b"\xff\xfe" + text.encode(),  # not UTF-8
            ("x: &a [1, 2, 3]\ny: [*a, *a]\n" + text).encode(),  # anchors and aliases
            b"",
            ("\t" + text).encode(),  # a tab where YAML wants spaces
            text.replace(":", "", 1).encode(),
        ]
    )


@st.composite
def documents(draw) -> bytes:
    tree = draw(DOCUMENTS)
    text = yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)
    return draw(_mutations(text))


def _loads_or_refuses(load, content: bytes, suffix: str = ".yaml") -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"plan{suffix}"
        path.write_bytes(content)
        started = time.process_time()
        try:
            load(path)
        except ScenarioError as exc:
            assert exc.problems
            # YAML breaks lines where str.splitlines does (NEL, LS and PS too)
            last_line = len(content.decode("utf-8", "replace").splitlines()) + 1
            for problem in exc.problems:
                assert 1 <= problem.line <= last_line, str(problem)
                assert PROBLEM.match(str(problem)), str(problem)
        assert time.process_time() - started < CPU_S


def fuzz(examples: int) -> settings:
    """The same documents every run (CI runs once: a red run must be reproducible), as
    many as ``examples``."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


@fuzz(1200)
@given(documents())
def test_every_generated_scenario_file_loads_or_is_refused_at_a_line(content):
    _loads_or_refuses(lambda path: load_scenarios([path]), content)


@fuzz(400)
@given(documents())
def test_every_generated_suite_loads_or_is_refused_at_a_line(content):
    _loads_or_refuses(lambda path: load_suite(str(path)), content)


@fuzz(400)
@given(documents())
def test_every_generated_matrix_loads_or_is_refused_at_a_line(content):
    _loads_or_refuses(load_matrix, content)


def _billion_laughs(levels: int = 9) -> bytes:
    rows = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        rows.append(f"a{level}: &a{level} [{refs}]")
    rows.append(f"name: x\npattern: C1 A\npersona: {{script: {{openers: *a{levels - 1}}}}}")
    return ("\n".join(rows) + "\n").encode()


def test_a_billion_laughs_is_refused_fast_not_expanded():
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "laughs.yaml"
        path.write_bytes(_billion_laughs())
        started = time.process_time()
        try:
            load_scenarios([path])
        except ScenarioError as exc:
            (problem,) = exc.problems
        spent = time.process_time() - started
    assert "expand to more than" in problem.message and problem.line == 1
    assert spent < CPU_S


def test_what_used_to_slip_through_is_refused_at_its_line(tmp_path):
    """A NaN range and a key given twice were accepted; some errors pointed at line 0."""
    cases = {
        "nan.yaml": ("name: A\npattern: C1 A\ntiming: {think_time: [.nan, 1]}\n", 3),
        "twice.yaml": ("name: A\npattern: C1 A\nname: B\n", 3),
        "inf.yaml": ("name: A\npattern: C1 A\ncollect: {quiet_window: .inf}\n", 3),
    }
    for file, (text, line) in cases.items():
        (tmp_path / file).write_text(text)
        try:
            load_scenarios([tmp_path / file])
        except ScenarioError as exc:
            assert [p.line for p in exc.problems] == [line], exc
        else:
            raise AssertionError(f"{file} was accepted")
    (tmp_path / "folder.yaml").mkdir()
    for missing in (tmp_path / "nothing.yaml", tmp_path / "folder.yaml"):
        try:
            load_scenarios([missing])
        except ScenarioError as exc:
            assert all(p.line == 1 for p in exc.problems)
        else:
            raise AssertionError(f"{missing} was accepted")


def test_the_cli_says_each_problem_in_a_line_and_exits_2(tmp_path):
    """What a person sees: `harness validate` and `harness run` on broken files print a
    `file:line: field: message` line per problem, no traceback, and exit 2."""
    (tmp_path / "laughs.yaml").write_bytes(_billion_laughs())
    (tmp_path / "binary.yaml").write_bytes(b"\x00\xff\x10name: x")
    (tmp_path / "twice.yaml").write_text("name: A\npattern: C1 A\nname: B\n")
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text("name: m\nbase: /etc/passwd\nparameters: {agent.debounce_s: [.nan]}\n")
    runs = [
        ["validate", *(str(tmp_path / f) for f in ("laughs.yaml", "binary.yaml", "twice.yaml"))],
        ["run", "--matrix", str(matrix)],
        ["run", "--suite", str(tmp_path / "twice.yaml")],
    ]
    for argv in runs:
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", *argv], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, (argv, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        problems = [line for line in done.stderr.splitlines() if not line.endswith("found")]
        assert problems and all(PROBLEM.match(line) for line in problems), done.stderr
        assert all(int(PROBLEM.match(line).group(1)) >= 1 for line in problems)
