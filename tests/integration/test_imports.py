"""Light imports: the engine and the scenario models stand on no transport library and
none of Locust, so a tool that only reads scenarios or plays conversations in process
starts fast and runs without Telegram, aiohttp, Redis or the Anthropic SDK installed.

Each check runs in a fresh interpreter (this one has imported everything already)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("telethon", "aiohttp", "redis", "anthropic", "locust", "gevent", "plotly")
PROBE = """
import json, sys
before = set(sys.modules)
import {module}
new = sorted(set(sys.modules) - before)
print(json.dumps(new))
"""


def modules_loaded_by(module: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("module", "at_most"),
    [("harness.conversation.engine", 41), ("harness.scenario", 10), ("harness.cli.main", 96)],
)
def test_the_engine_the_scenario_models_and_the_cli_load_no_transport_library(module, at_most):
    """The CLI's commands (``harness validate`` and the rest) load Telethon, Redis's
    client or aiohttp only when the one that needs it runs."""
    loaded = modules_loaded_by(module)
    heavy = sorted({name.split(".")[0] for name in loaded} & set(HEAVY))
    assert heavy == [], f"{module} loads {heavy}"
    ours = [name for name in loaded if name.startswith("harness")]
    assert len(ours) <= at_most, ours  # 57 of 85 before the packages stopped importing all


def package_imports() -> dict[str, set[str]]:
    """Which harness packages each harness package imports, read from the source."""
    root = Path(__file__).resolve().parents[2] / "harness"
    edges: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        package = path.relative_to(root).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "harness" and len(parts) > 1 and parts[1] != package:
                    edges.setdefault(package, set()).add(parts[1])
    return edges


def test_no_package_imports_one_that_imports_it_back():
    edges = package_imports()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for step in edges.get(start, ()):
            if step == goal or (step not in seen and reaches(step, goal, seen | {step})):
                return True
        return False

    cycles = sorted((a, b) for a, targets in edges.items() for b in targets if reaches(b, a, set()))
    assert cycles == []
    assert not any("locust" in targets for targets in edges.values())  # nothing leans on glue
