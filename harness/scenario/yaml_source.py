"""Reading a YAML file that a person (or a fuzzer) wrote: every way it can be wrong is a
``Problem`` at the line it concerns, never an exception and never line 0.

Beyond YAML's own syntax errors it refuses what PyYAML accepts silently: a key given twice
in one mapping (the later one used to win without a word), and anchors whose aliases
expand to more values than any scenario needs (a "billion laughs" document would be
expanded by validation, value by value, for minutes). Not-a-number and infinite values
are refused by the models (``allow_inf_nan=False``), at their line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

MAX_VALUES = 100_000
"""More values than this, aliases expanded, and the file is refused."""


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    path: str
    message: str

    def __post_init__(self) -> None:
        if self.line < 1:  # a problem always points somewhere a person can look
            object.__setattr__(self, "line", 1)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader says so below
                continue
            if first is not None:
                raise _DuplicateKey(
                    None,
                    None,
                    f"key {key!r} given twice (first on line {first.start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def read_yaml(file: Path) -> tuple[yaml.Node | None, Any, list[Problem]]:
    """(the node tree for lines, the data, problems); data is None when there are
    problems."""
    name = str(file)
    if file.is_dir():
        return None, None, [Problem(name, 1, "(file)", "is a folder, not a YAML file")]
    try:
        raw = file.read_bytes()
    except OSError as exc:
        return None, None, [Problem(name, 1, "(file)", f"cannot read it: {exc.strerror}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, None, [Problem(name, line, "(file)", "not UTF-8 text (a binary file?)")]
    loader = _StrictLoader(text)
    try:  # parsed once: the node tree gives the lines, and the data is built from it
        root = loader.get_single_node()
        if _expanded_size(root) > MAX_VALUES:
            too_many = (
                f"its anchors and aliases expand to more than {MAX_VALUES:,} values: "
                "write the values out, or use fewer aliases"
            )
            return root, None, [Problem(name, 1, "(yaml)", too_many)]
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        return None, None, [Problem(name, line, "(yaml)", str(exc.problem or exc).strip())]
    except (yaml.YAMLError, RecursionError) as exc:
        return None, None, [Problem(name, 1, "(yaml)", f"not readable YAML: {exc}")]
    finally:
        loader.dispose()
    return root, data, []


def _expanded_size(root: yaml.Node | None) -> int:
    """How many values the tree holds once every alias is expanded (each node's size is
    counted once and reused, so this is quick even for a billion-laughs document)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a node inside itself (a recursive alias) counts once
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(key) + size(value) for key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item) for item in node.value)
        else:
            total = 1
        sizes[id(node)] = min(total, MAX_VALUES + 1)
        return sizes[id(node)]

    return 0 if root is None else size(root)


def validation_problems(
    file: str, root: yaml.Node | None, error: ValidationError, prefix: tuple = ()
) -> list[Problem]:
    """A model's validation errors as problems at their lines (``prefix``: where the
    validated mapping sits in the file)."""
    problems = []
    for found in error.errors():
        loc = prefix + tuple(found["loc"])
        problems.append(
            Problem(file, line_of(root, loc), _dotted(loc) or "(root)", _message(found))
        )
    return problems


def _message(error: Any) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error["type"] == "extra_forbidden":
        return "unknown field (check the spelling; `harness schema` lists the fields)"
    if error["type"] == "finite_number":
        return "must be a finite number (not NaN or infinity)"
    return message


def _dotted(loc: tuple) -> str:
    """``persona.script.openers.0``; a key that is blank or odd (spaces, control
    characters) is quoted, so the path always shows where to look."""
    return ".".join(_shown(part) for part in loc)


def _shown(part: object) -> str:
    text = str(part)
    plain = text and text.isprintable() and not any(ch.isspace() for ch in text)
    return text if plain else repr(text)


def line_of(node: yaml.Node | None, loc: tuple) -> int:
    """1-based line of the deepest YAML node that ``loc`` reaches."""
    if node is None:
        return 1
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


def _child(node: yaml.Node, part: object) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None
