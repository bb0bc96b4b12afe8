"""Loading scenarios from YAML files and folders, with errors that point at the line.

A file holds one scenario (a mapping with ``name``) or several (``scenarios: [...]``).
Every problem in every file is collected before anything is reported, so a user fixes
them all in one pass: ``file:line: field.path: message``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import ValidationError

from harness.scenario.models import Scenario
from harness.scenario.variants import Variant
from harness.scenario.yaml_source import Problem, line_of, read_yaml, validation_problems

SCENARIO_SUFFIXES = (".yaml", ".yml")
NOT_SCENARIOS = ("suites", "matrices")
"""Folders of run plans, not scenarios: a folder's scan passes them by."""


class ScenarioError(Exception):
    """One or more scenario files are invalid; ``problems`` lists each with its line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def scenario_files(paths: Iterable[str | Path]) -> list[Path]:
    """The YAML files named, folders expanded recursively in sorted order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = (p for p in path.rglob("*") if p.suffix in SCENARIO_SUFFIXES)
            files.extend(sorted(p for p in found if not _in_plan_folder(p.relative_to(path).parts)))
        elif path.is_file():
            files.append(path)
        else:
            raise ScenarioError([Problem(str(path), 1, "(file)", "no such file or folder")])
    return files


def _in_plan_folder(parts: tuple[str, ...]) -> bool:
    return any(part in NOT_SCENARIOS for part in parts[:-1])


def load_scenarios(paths: Iterable[str | Path], variants: Sequence[Variant] = ()) -> list[Scenario]:
    """Every scenario in the given files and folders (each once per variant, when there
    are variants); raises ScenarioError listing all problems."""
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    where: dict[str, str] = {}
    files = scenario_files(paths)
    if not files:
        raise ScenarioError(
            [Problem(", ".join(map(str, paths)), 1, "(file)", "no .yaml files found")]
        )
    for file in files:
        loaded, found = _load_file(file, variants or (Variant(),))
        problems.extend(p for p in found if p not in problems)  # one per variant: once
        for scenario, line in loaded:
            if scenario.name in where:
                problems.append(
                    Problem(
                        str(file),
                        line,
                        "name",
                        f"duplicate scenario name {scenario.name!r}, "
                        f"first defined in {where[scenario.name]}",
                    )
                )
                continue
            where[scenario.name] = f"{file}:{line}"
            scenarios.append(scenario)
    if problems:
        raise ScenarioError(problems)
    return scenarios


def _load_file(
    file: Path, variants: Sequence[Variant]
) -> tuple[list[tuple[Scenario, int]], list[Problem]]:
    name = str(file)
    root, data, problems = read_yaml(file)
    if problems:
        return [], problems
    if isinstance(data, dict) and "scenarios" in data:
        if set(data) != {"scenarios"} or not isinstance(data["scenarios"], list):
            return [], [
                Problem(
                    name, 1, "scenarios", "a multi-scenario file holds only a 'scenarios:' list"
                )
            ]
        entries = [(("scenarios", index), item) for index, item in enumerate(data["scenarios"])]
    else:
        entries = [((), data)]
    loaded: list[tuple[Scenario, int]] = []
    for prefix, item in entries:
        if not isinstance(item, dict):
            problems.append(
                Problem(
                    name,
                    line_of(root, prefix),
                    ".".join(map(str, prefix)) or "(root)",
                    "expected a mapping with at least 'name:'",
                )
            )
            continue
        for variant in variants:
            try:
                varied = variant.apply(item)
                scenario = Scenario.model_validate(varied, context={"base_dir": file.parent})
                loaded.append((scenario, line_of(root, prefix)))
            except ValidationError as exc:
                problems.extend(validation_problems(name, root, exc, prefix))
    return loaded, problems
