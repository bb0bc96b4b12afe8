"""The Recorder: turns what conversations produce into run stats and a transcript file.

It is the observer at the end of the line, whether the engine calls it directly
(``harness run``, tests) or the Locust side drains records into it from the loop thread.
Transcript lines are written as they come, so a long run never holds them all in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from harness.clock import Timeline
from harness.files import LineFile, LineSink
from harness.metrics.aggregate import RunStats
from harness.metrics.debounce import SAMPLE_LIMIT
from harness.records import (
    ConversationResult,
    LateReplies,
    PersonaRecord,
    TranscriptEntry,
    TurnRecord,
)


class Recorder:
    """``mirror``, when given, receives every figure too: a Locust worker keeps there what
    it has not yet sent to its master. Of the debounce evidence it receives only what
    ``stats`` keeps (a scenario's first ``SAMPLE_LIMIT`` bursts with evidence since the
    run's start or its --reset-stats): the master keeps the first it is sent, so a
    worker sends no more than it could use. Transcript and verdict lines go to a file (a
    path) or any other sink; ``run_id`` is stamped on each."""

    def __init__(
        self,
        transcript: Path | LineSink | None = None,
        mirror: RunStats | None = None,
        timeline: Timeline | None = None,
        conversations: Path | LineSink | None = None,
        run_id: str | None = None,
    ) -> None:
        self.stats = RunStats()
        self.replace_mirror(mirror)
        self.timeline = timeline or Timeline()
        self.run_id = run_id
        self._transcript = _sink(transcript)
        self._conversations = _sink(conversations)

    def replace_mirror(self, mirror: RunStats | None) -> None:
        """Where figures go besides ``stats`` (after ``stats`` itself was replaced, too)."""
        self._sinks = [self.stats] if mirror is None else [self.stats, mirror]

    def on_message(self, entry: TranscriptEntry) -> None:
        if self._transcript is None:
            return
        wall = datetime.fromtimestamp(self.timeline.wall_time(entry.t), UTC)
        line = {
            "run_id": self.run_id,
            "conversation_id": entry.conversation_id,
            "scenario": entry.scenario,
            "persona": entry.persona,
            "turn": entry.turn,
            "role": entry.role,
            "text": entry.text,
            "time": wall.isoformat(timespec="milliseconds"),
            "t_s": self.timeline.relative(entry.t),
        }
        if entry.edit:
            line["edit"] = True
        if entry.action is not None:
            line["action"] = entry.action
        self._transcript.write(orjson.dumps(line) + b"\n")

    def on_turn(self, record: TurnRecord) -> None:
        kept = len(self.stats.scenario(record.scenario).debounce_samples) < SAMPLE_LIMIT
        for stats in self._sinks:
            scenario = stats.scenario(record.scenario)
            if record.reconnected:
                scenario.add_reconnected(record.burst)
            else:
                scenario.add_burst(record.burst, sample_debounce=kept)

    def on_interrupted_turn(self, record: TurnRecord) -> None:
        for stats in self._sinks:
            stats.scenario(record.scenario).bursts_interrupted += 1

    def on_late(self, record: LateReplies) -> None:
        for stats in self._sinks:
            stats.scenario(record.scenario).add_late(record.count)

    def on_persona(self, record: PersonaRecord) -> None:
        for stats in self._sinks:
            stats.scenario(record.scenario).persona_usage.merge(record.usage)

    def on_end(self, result: ConversationResult) -> None:
        bot_errors: dict[str, int] = {}
        for (category, _detail), count in result.bot_errors:
            bot_errors[category] = bot_errors.get(category, 0) + count
        for stats in self._sinks:
            stats.scenario(result.scenario).add_conversation(
                result.end_reason,
                result.bursts_interrupted,
                bot_errors,
                result.judgment,
                result.turns,
                result.untranscribed,
            )
        cut_off = result.judgment is not None and result.judgment.excluded == "cut_off"
        if result.judgment is not None and self._conversations is not None and not cut_off:
            self._conversations.write(orjson.dumps(self._conversation_line(result)) + b"\n")

    def _conversation_line(self, result: ConversationResult) -> dict:
        """A judged conversation's line of ``conversations.jsonl``."""
        judgment = result.judgment
        assert judgment is not None
        return {
            "run_id": self.run_id,
            "conversation_id": result.conversation_id,
            "scenario": result.scenario,
            "persona": judgment.persona,
            "personality": judgment.personality,
            "engine": judgment.engine,
            "end_reason": result.end_reason,
            "outcome": judgment.outcome,
            "success": judgment.success,
            "excluded": judgment.excluded,
            "score": judgment.score,
            "goals_achieved": judgment.goals_achieved,
            "goals_total": judgment.goals_total,
            "blame": judgment.blame,
            "turns": result.turns,
            "duration_s": judgment.duration_s,
            "error": result.error,
            "slots": dict(judgment.slots),
            "evaluations": [evaluation.to_dict() for evaluation in judgment.evaluations],
        }

    def line_sinks(self) -> dict[str, Callable[[bytes], None]]:
        """Where whole lines made elsewhere (a worker's, on its master) are written."""
        sinks = (("transcript", self._transcript), ("conversations", self._conversations))
        return {kind: sink.write for kind, sink in sinks if sink is not None}

    def flush(self) -> None:
        """Every line so far into the files (a reader of the folder sees them all)."""
        for handle in (self._transcript, self._conversations):
            if handle is not None:
                handle.flush()

    def close(self) -> None:
        for handle in (self._transcript, self._conversations):
            if handle is not None:
                handle.close()
        self._transcript = self._conversations = None


def _sink(target: Path | LineSink | None) -> LineSink | None:
    return LineFile(target) if isinstance(target, Path) else target
