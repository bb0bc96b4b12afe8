"""What the HTML report reads from a run's folder, in bounded memory.

A run of 100,000 conversations writes millions of transcript lines; the page must stay a
few megabytes. So the files are streamed, twice at most: the first pass keeps counts
(every pause between two messages of a burst, binned, and a fixed-size sample of them
as points) and which conversations exist; a sample of conversations is chosen (every
scenario alike, failed ones first, then at random with a fixed seed, so rebuilding the
report gives the same page); the second pass keeps only the sampled conversations' lines.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from harness.files import read_json_lines
from harness.report.model import Report
from harness.report.writer import CONVERSATIONS_FILE, REPORT_FILE, TRANSCRIPT_FILE

SAMPLED_CONVERSATIONS = 600
"""At most this many conversations are candidates for the chat view."""
PAUSE_POINTS = 3000
"""At most this many pauses are drawn as points, shared by the scenarios; the rates per
bin count every pause."""
BINS_PER_DECADE = 10


class ReportFolderError(Exception):
    """The folder holds no readable report (the message names the file and the fix)."""


@dataclass
class PauseEvidence:
    """Every pause between two messages of one burst, and whether an agent message came
    during it (the agent answered before the user was done: a premature reply)."""

    limit: int = PAUSE_POINTS
    bins: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    """Bin (tenths of a decade of seconds) -> [pauses, pauses answered during]."""
    points: list[tuple[float, bool]] = field(default_factory=list)
    seen: int = 0
    _rng: random.Random = field(default_factory=lambda: random.Random(0))

    def add(self, pause_s: float, answered: bool) -> None:
        if pause_s <= 0:
            return
        counts = self.bins[math.floor(math.log10(pause_s) * BINS_PER_DECADE)]
        counts[0] += 1
        counts[1] += answered
        self.seen += 1
        if len(self.points) < self.limit:  # reservoir sampling: every pause alike
            self.points.append((pause_s, answered))
        elif (slot := self._rng.randrange(self.seen)) < self.limit:
            self.points[slot] = (pause_s, answered)

    def rates(self) -> list[tuple[float, float, int]]:
        """(bin's middle in seconds, share answered during the pause, pauses) per bin."""
        return [
            (10 ** ((index + 0.5) / BINS_PER_DECADE), answered / count, count)
            for index, (count, answered) in sorted(self.bins.items())
        ]


@dataclass
class _Burst:
    """Where one conversation's current burst stands, while the transcript streams by."""

    turn: int = -1
    last_client_t: float | None = None
    agent_since: bool = False


@dataclass(frozen=True)
class Verdict:
    scenario: str
    outcome: str | None
    success: bool | None


@dataclass
class RunFolder:
    """A run's folder, read for the page."""

    report: Report
    has_transcripts: bool
    has_verdicts: bool
    pauses: dict[str, PauseEvidence]
    """Per scenario: each talks to its own agent (the mock gives each its own), so each
    has its own debounce window."""
    conversations_total: int
    sampled: list[str]
    """Conversation ids, most wanted first (failed, then the rest; scenarios alike)."""
    lines: dict[str, list[dict]]
    """The sampled conversations' transcript lines, in order."""
    verdicts: dict[str, dict]
    """The sampled conversations' lines of conversations.jsonl."""


def read_run_folder(folder: Path, transcripts: Path | None = None) -> RunFolder:
    """``transcripts``: where the run's transcripts are, when not in the folder (a
    regraded run's are its original run's)."""
    report = _read_report(folder / REPORT_FILE)
    transcripts = transcripts or folder / TRANSCRIPT_FILE
    judged = folder / CONVERSATIONS_FILE
    verdicts = {
        line["conversation_id"]: Verdict(line["scenario"], line.get("outcome"), line["success"])
        for line in _lines(judged)
    }
    share = max(PAUSE_POINTS // max(len(report.scenarios), 1), 100)
    pauses: dict[str, PauseEvidence] = defaultdict(lambda: PauseEvidence(share))
    scenario_of: dict[str, str] = {}
    bursts: dict[str, _Burst] = defaultdict(_Burst)
    for line in _lines(transcripts):
        conversation = line["conversation_id"]
        scenario_of.setdefault(conversation, line["scenario"])
        if line.get("edit") or line.get("action"):
            continue
        _follow(bursts[conversation], line, pauses[line["scenario"]])
    for conversation, verdict in verdicts.items():
        scenario_of.setdefault(conversation, verdict.scenario)
    sampled = _sample(scenario_of, verdicts)
    wanted = set(sampled)
    lines: dict[str, list[dict]] = defaultdict(list)
    for line in _lines(transcripts):
        if line["conversation_id"] in wanted:
            lines[line["conversation_id"]].append(line)
    full_verdicts = {
        line["conversation_id"]: line
        for line in _lines(judged)
        if line["conversation_id"] in wanted
    }
    return RunFolder(
        report,
        transcripts.exists(),
        judged.exists(),
        dict(pauses),
        len(scenario_of),
        sampled,
        dict(lines),
        full_verdicts,
    )


def _read_report(path: Path) -> Report:
    try:
        return Report.model_validate(orjson.loads(path.read_bytes()))
    except (FileNotFoundError, NotADirectoryError):
        raise ReportFolderError(
            f"{path} does not exist: give the --report-dir of a finished run"
        ) from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a chatstorm report.json"
        raise ReportFolderError(f"{path}: {reason}") from None


def _lines(path: Path) -> Iterator[dict]:
    """The file's conversation lines (none when the run did not write the file)."""
    if path.is_file():
        yield from (line for line in read_json_lines(path) if "conversation_id" in line)


def _follow(burst: _Burst, line: dict, pauses: PauseEvidence) -> None:
    """Advance one conversation's burst by a message; a client message that continues
    the burst closes a pause."""
    turn, t = line["turn"], line["t_s"]
    if line["role"] != "client":
        if turn == burst.turn:
            burst.agent_since = True
        return
    if turn == burst.turn and burst.last_client_t is not None:
        pauses.add(t - burst.last_client_t, burst.agent_since)
    burst.turn, burst.last_client_t, burst.agent_since = turn, t, False


def _sample(scenario_of: dict[str, str], verdicts: dict[str, Verdict]) -> list[str]:
    """Up to SAMPLED_CONVERSATIONS ids, taking turns across scenarios; within each, the
    failed ones first, each group in a seeded random order."""
    rng = random.Random(0)
    queues: dict[str, list[str]] = defaultdict(list)
    by_scenario: dict[str, list[str]] = defaultdict(list)
    for conversation, scenario in scenario_of.items():
        by_scenario[scenario].append(conversation)
    for scenario, ids in sorted(by_scenario.items()):
        failed = [c for c in ids if c in verdicts and verdicts[c].success is False]
        failed_ids = set(failed)
        rest = [c for c in ids if c not in failed_ids]
        rng.shuffle(failed)
        rng.shuffle(rest)
        queues[scenario] = failed + rest
    chosen: list[str] = []
    taken: Counter[str] = Counter()
    while len(chosen) < SAMPLED_CONVERSATIONS and any(taken[s] < len(q) for s, q in queues.items()):
        for scenario, queue in queues.items():
            if taken[scenario] < len(queue) and len(chosen) < SAMPLED_CONVERSATIONS:
                chosen.append(queue[taken[scenario]])
                taken[scenario] += 1
    return chosen
