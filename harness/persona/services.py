"""What the personas of one process share: the LLM gateway, loaded recordings, counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harness.llm.gateway import LlmGateway
from harness.persona.recordings import Recording, read_recordings


@dataclass
class PersonaServices:
    seed: str = "0"
    llm: LlmGateway | None = None
    recordings: dict[Path, list[Recording]] = field(default_factory=dict)
    _started: Counter[str] = field(default_factory=Counter)

    def next_index(self, scenario: str) -> int:
        """0, 1, 2, ... per scenario: which variant or recording a new conversation plays."""
        index = self._started[scenario]
        self._started[scenario] += 1
        return index

    def recordings_in(self, path: Path) -> list[Recording]:
        """A recording file's conversations, read once per process (RecordingError if bad)."""
        loaded = self.recordings.get(path)
        if loaded is None:
            loaded = self.recordings[path] = read_recordings(path)
        return loaded
