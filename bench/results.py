"""bench/RESULTS.md, written a section at a time: each benchmark replaces its own
section (``## Title`` up to the next ``## ``) and leaves the others as they are."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "# chatstorm benchmark results\n"


def replace_section(title: str, section: str) -> None:
    """``section`` (starting with ``title``) in place of the one there, else at the end."""
    text = RESULTS.read_text() if RESULTS.exists() else HEADING
    before, _, after = text.partition(title)
    rest = after.split("\n## ", 1)
    tail = f"\n\n## {rest[1]}" if len(rest) > 1 else ""
    RESULTS.write_text(f"{before.rstrip()}\n\n{section.rstrip()}{tail.rstrip()}\n")
