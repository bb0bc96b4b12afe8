"""Variants of a scenario: the same YAML with some values replaced by dotted path
(``persona.personality``, ``agent.debounce_s``), validated like any scenario and named
after what changed. Suites use them to run a scenario under several personalities;
matrices, to run a grid of parameters. A value replaced in the YAML, not in the model,
means what it would mean written there: another personality brings its preset's traits
and pauses wherever the scenario leaves them out."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Variant:
    overrides: Mapping[str, object] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``persona.personality=angry, agent.debounce_s=2``."""
        return ", ".join(f"{path}={_shown(value)}" for path, value in self.overrides.items())

    def apply(self, item: dict) -> dict:
        """The scenario mapping with the overrides, and its name telling them."""
        varied = copy.deepcopy(item)
        for path, value in self.overrides.items():
            *parents, leaf = path.split(".")
            node = varied
            for part in parents:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[leaf] = value
        if self.overrides:
            varied["name"] = f"{item.get('name')} ({self.label})"
        return varied


def _shown(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(_shown, value)) + "]"
    return str(value)
