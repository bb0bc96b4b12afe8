"""Run plans for ``harness run``: suites (named sets of scenarios, under chosen
personalities, repeated, with objectives) and matrices (one scenario over a grid of
parameters). Both are YAML files, validated with ``file:line`` errors like scenarios;
they live in ``scenarios/suites/`` and ``scenarios/matrices/``, which a scan of
``scenarios/`` for scenarios passes by.
"""

from __future__ import annotations

import glob
import itertools
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from harness.scenario.loader import ScenarioError, load_scenarios
from harness.scenario.models import Expectations, PersonalityPreset, Scenario, StrictModel
from harness.scenario.variants import Variant
from harness.scenario.yaml_source import Problem, read_yaml, validation_problems

SUITES = Path("scenarios") / "suites"
MAX_COMBINATIONS = 1_000


class Suite(StrictModel):
    name: str = Field(min_length=1)
    description: str = ""
    scenarios: list[str] = Field(min_length=1)
    """Scenario files, folders or globs, relative to the suite's file."""
    personalities: list[PersonalityPreset] = Field(default_factory=list)
    """Run every scenario under each of these (default: as written)."""
    repeat: int = Field(1, ge=1)
    concurrency: int = Field(8, ge=1)
    expect: Expectations = Field(default_factory=Expectations)
    """Objectives for every scenario of the suite (over the scenarios' own)."""
    min_success_rate: float | None = Field(None, ge=0, le=1)
    """An objective over the whole suite."""

    @field_validator("scenarios")
    @classmethod
    def _relative(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not pattern.strip() or Path(pattern).is_absolute():
                raise ValueError(f"{pattern!r}: give files or globs relative to the suite")
        return patterns


class Matrix(StrictModel):
    name: str = Field(min_length=1)
    description: str = ""
    base: str
    """The scenario file, relative to the matrix's file."""
    scenario: str | None = None
    """Which scenario of the file, when it holds several."""
    parameters: dict[str, list[Any]] = Field(min_length=1)
    """Dotted scenario paths and the values each takes: every combination is run."""
    runs_per_combination: int = Field(1, ge=1)
    concurrency: int = Field(8, ge=1)

    @field_validator("base")
    @classmethod
    def _a_file(cls, base: str) -> str:
        if Path(base).is_absolute() or Path(base).suffix not in (".yaml", ".yml"):
            raise ValueError(f"{base!r}: give a .yaml scenario file, relative to the matrix")
        return base

    @field_validator("parameters")
    @classmethod
    def _values(cls, parameters: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for path, values in parameters.items():
            if not values:
                raise ValueError(f"{path}: give it at least one value")
            if path in ("name",):
                raise ValueError("the name is the combination's: vary something else")
        return parameters

    @property
    def combinations(self) -> int:
        count = 1
        for values in self.parameters.values():
            count *= len(values)
        return count

    def variants(self) -> list[Variant]:
        paths = list(self.parameters)
        grid = itertools.product(*self.parameters.values())
        return [Variant(dict(zip(paths, values, strict=True))) for values in grid]


def load_suite(name_or_path: str) -> tuple[Suite, list[Scenario]]:
    """A suite by name (``scenarios/suites/<name>.yaml``) or path, and its scenarios."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SUITES / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in SUITES.glob("*.yaml"))
        raise ScenarioError(
            [Problem(str(path), 1, "(file)", f"no such suite; known: {', '.join(known) or '-'}")]
        )
    suite = _validated(Suite, path)
    files: list[str] = []
    for pattern in suite.scenarios:
        matched = sorted(glob.glob(str(path.parent / pattern), recursive=True))
        if not matched:
            raise ScenarioError(
                [Problem(str(path), 1, "scenarios", f"{pattern!r} matches nothing")]
            )
        files.extend(m for m in matched if m not in files)
    variants = [Variant({"persona.personality": p}) for p in suite.personalities]
    return suite, load_scenarios(files, variants)


def load_matrix(
    path: Path, max_combinations: int = MAX_COMBINATIONS
) -> tuple[Matrix, list[Scenario]]:
    """A matrix and its combinations, each a scenario named after its values."""
    matrix = _validated(Matrix, path)
    if matrix.combinations > max_combinations:
        raise ScenarioError(
            [
                Problem(
                    str(path),
                    1,
                    "parameters",
                    f"{matrix.combinations:,} combinations, over the limit of "
                    f"{max_combinations:,}: raise it with --max-combinations if you mean it",
                )
            ]
        )
    scenarios = load_scenarios([path.parent / matrix.base], matrix.variants())
    if matrix.scenario is not None:
        prefix = f"{matrix.scenario} ("
        scenarios = [s for s in scenarios if s.name.startswith(prefix)]
        if not scenarios:
            raise ScenarioError(
                [Problem(str(path), 1, "scenario", f"no scenario {matrix.scenario!r} in the base")]
            )
    return matrix, scenarios


def matrix_cells(matrix: Matrix, scenarios: list[Scenario]) -> dict[str, dict[str, Any]]:
    """Which scenario is which combination: scenario name -> the parameters' values."""
    cells: dict[str, dict[str, Any]] = {}
    for variant in matrix.variants():
        suffix = f" ({variant.label})"
        for scenario in scenarios:
            if scenario.name.endswith(suffix):
                cells[scenario.name] = dict(variant.overrides)
    return cells


def _validated(model: type[Suite] | type[Matrix], path: Path) -> Any:
    """The plan in ``path``; ScenarioError with every problem at its line."""
    root, data, problems = read_yaml(path)
    if problems:
        raise ScenarioError(problems)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(str(path), root, exc)) from None
