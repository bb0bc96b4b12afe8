"""``junit.xml``: a functional run for CI systems that read JUnit. A test suite per
scenario, a test case per conversation (its scenario's repeat), a failure with the failed
evaluation (or why the conversation ended) and where its transcript is."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.records import ConversationResult

JUNIT_FILE = "junit.xml"


def write_junit(
    path: Path,
    results: Sequence[ConversationResult],
    failure_of: Callable[[ConversationResult], str | None],
    transcripts: Path | None,
) -> Path:
    """``failure_of`` says why a conversation failed (None: it succeeded)."""
    by_scenario: dict[str, list[ConversationResult]] = defaultdict(list)
    for result in results:
        by_scenario[result.scenario].append(result)
    root = ET.Element("testsuites", name="chatstorm")
    for scenario, members in sorted(by_scenario.items()):
        failures = [failure_of(result) for result in members]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=scenario,
            tests=str(len(members)),
            failures=str(sum(why is not None for why in failures)),
            time=f"{_seconds(members):.3f}",
        )
        for result, why in zip(members, failures, strict=True):
            judgment = result.judgment
            case = ET.SubElement(
                suite,
                "testcase",
                classname=scenario,
                name=result.conversation_id,
                time=f"{judgment.duration_s if judgment else 0:.3f}",
            )
            if why is not None:
                failure = ET.SubElement(case, "failure", message=why, type=result.end_reason)
                where = f"transcript: {transcripts} (conversation_id {result.conversation_id})"
                failure.text = where if transcripts is not None else why
    ET.indent(root)
    path.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
    return path


def _seconds(results: Sequence[ConversationResult]) -> float:
    return sum(result.judgment.duration_s for result in results if result.judgment)
