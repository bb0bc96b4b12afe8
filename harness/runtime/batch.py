"""A functional run: exactly the requested conversations, to completion, then the report.

``harness run`` plays each planned scenario its number of times, at most
``concurrency`` conversations at once, on the same process runtime, transports, personas,
judging and report as a Locust run. Every conversation is judged (a scenario without
criteria succeeds when it ran its course and every reply came), so the run has a success
rate and pass^k. A stop (Ctrl-C, SIGTERM) winds the conversations down within a bound and
still reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from harness.metrics.loop_lag import LoopLagFigures
from harness.metrics.quality import QualityTimeline
from harness.records import ConversationResult
from harness.report import CONVERSATIONS_FILE, TRANSCRIPT_FILE, Recorder
from harness.report.model import Report
from harness.runtime.conclusion import Conclusion, conclude
from harness.runtime.process import ProcessRuntime, RunSettings
from harness.scenario import Scenario
from harness.transport.botapi import BotApiSettings

WIND_DOWN_S = 10.0
CLOSE_WITHIN_S = 10.0


@dataclass(frozen=True)
class Planned:
    """A scenario and how many times to play it."""

    scenario: Scenario
    runs: int


@dataclass(frozen=True)
class BatchOutcome:
    conclusion: Conclusion
    results: list[ConversationResult]
    """Every conversation that ended, in the order they ended."""
    planned: int
    stopped: bool
    """The run was stopped before every planned conversation had ended."""


async def run_batch(
    settings: RunSettings,
    plan: list[Planned],
    concurrency: int,
    on_end: Callable[[ConversationResult, Recorder], None] = lambda result, recorder: None,
    stop: asyncio.Event | None = None,
    amend: Callable[[Report], None] | None = None,
) -> BatchOutcome:
    """Play the plan; ``on_end`` hears of each conversation as it ends (progress). When
    ``stop`` is set, the conversations still running are told to end (bounded), and the
    run reports what it has. ``amend`` adds to the report before it is written."""
    scenarios = [planned.scenario for planned in plan]
    runtime = ProcessRuntime(settings, scenarios)
    folder = settings.report_dir
    recorder = Recorder(
        folder / TRANSCRIPT_FILE if settings.writes_transcripts and folder else None,
        timeline=runtime.timeline,
        conversations=folder / CONVERSATIONS_FILE if folder else None,
        run_id=settings.run_id,
    )
    slots = asyncio.Semaphore(concurrency)
    results: list[ConversationResult] = []

    async def one(scenario: Scenario, serial: int) -> None:
        async with slots:
            result = await runtime.converse(scenario, f"{scenario.name}#{serial}", recorder)
        results.append(result)
        on_end(result, recorder)

    try:
        botapi = settings.transport.settings
        if isinstance(botapi, BotApiSettings) and botapi.serve:  # --botapi-serve: here
            await runtime.serve_botapi(
                botapi.emulator_url, botapi.state, botapi.telegram_limits, botapi.link_token
            )
        await runtime.open()
        playing = [
            asyncio.ensure_future(one(planned.scenario, serial))
            for planned in plan
            for serial in range(1, planned.runs + 1)
        ]
        everything = asyncio.gather(*playing)
        stopping = asyncio.ensure_future((stop or asyncio.Event()).wait())
        try:
            await asyncio.wait([everything, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:  # the conversations still running are told to end, bounded
            stopping.cancel()
            for task in playing:
                task.cancel()
            await runtime.wind_down(WIND_DOWN_S)
            await asyncio.gather(everything, return_exceptions=True)
    finally:
        await runtime.close(CLOSE_WITHIN_S)
        recorder.close()
    conclusion = conclude(
        recorder, settings, runtime.scenarios, LoopLagFigures(), QualityTimeline(), amend
    )
    planned = sum(planned.runs for planned in plan)
    return BatchOutcome(conclusion, results, planned, len(results) < planned)
