"""``harness generate`` and ``harness import``: conversations for the replay persona.

``generate`` plays a scenario's LLM persona against the built-in reference agent (mock
transport) and records the conversations; ``import`` turns recorded real conversations
into the same format. A load run with ``engine: replay`` then serves them with no LLM
call at all.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer

from harness.conversation import TranscriptEntry
from harness.llm.request import DEFAULT_MAX_RETRIES, GatewaySettings
from harness.options import (
    http_url,
    non_negative_int,
    output_file,
    output_folder,
    positive_float,
    positive_int,
    redis_url,
)
from harness.persona.recordings import (
    RecordedMessage,
    Recording,
    RecordingError,
    import_messages,
    write_recordings,
)
from harness.persona.services import DEFAULT_CACHE_DIR, LlmCacheSettings
from harness.report import Recorder
from harness.report.model import LlmUsage
from harness.report.summary import llm_cells
from harness.runtime import ProcessRuntime, RunSettings
from harness.scenario import Scenario, ScenarioError, load_scenarios

CLOSE_WITHIN_S = 10.0


class _Transcripts(Recorder):
    """The Recorder's figures, plus every conversation's messages kept in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, list[RecordedMessage]] = defaultdict(list)

    def on_message(self, entry: TranscriptEntry) -> None:
        self.messages[entry.conversation_id].append(RecordedMessage(entry.role, entry.text))


def generate(
    scenario_path: Annotated[
        Path, typer.Option("--scenario", help="Scenario file (or folder), engine: llm.")
    ],
    out: Annotated[str, typer.Option("--out", parser=output_file, help="JSONL file to write.")],
    count: Annotated[
        int, typer.Option("--count", parser=positive_int, help="Conversations to record.")
    ] = 10,
    name: Annotated[str | None, typer.Option("--name", help="Which scenario of several.")] = None,
    seed: Annotated[str, typer.Option("--seed", help="Same seed, same questions.")] = "0",
    time_scale: Annotated[float, typer.Option("--time-scale", parser=positive_float)] = 0.05,
    parallel: Annotated[int, typer.Option("--parallel", parser=positive_int, help="At once.")] = 4,
    base_url: Annotated[str | None, typer.Option("--llm-base-url", parser=http_url)] = None,
    cache_dir: Annotated[
        str | None,
        typer.Option(
            "--llm-cache-dir", parser=output_folder, help=f"Answers (default {DEFAULT_CACHE_DIR})."
        ),
    ] = None,
    redis: Annotated[
        str | None,
        typer.Option("--redis-url", parser=redis_url, help="Shared cache."),
    ] = None,
    budget: Annotated[float | None, typer.Option("--llm-budget-usd", parser=positive_float)] = None,
    max_retries: Annotated[
        int, typer.Option("--llm-max-retries", parser=non_negative_int)
    ] = DEFAULT_MAX_RETRIES,
) -> None:
    """Record COUNT conversations of an LLM persona with the reference agent, for replay."""
    scenario = _pick_scenario(scenario_path, name)
    from harness.coord import RedisUnavailable

    gateway = GatewaySettings(budget_usd=budget, max_retries=max_retries, base_url=base_url)
    cache = LlmCacheSettings(folder=Path(cache_dir or DEFAULT_CACHE_DIR), redis_url=redis)
    try:
        recorded = asyncio.run(_record(scenario, count, seed, time_scale, parallel, gateway, cache))
    except (RedisUnavailable, OSError, ValueError) as exc:
        typer.echo(f"chatstorm: {exc}", err=True)
        raise typer.Exit(2) from None
    recordings = [
        Recording(conversation_id, tuple(messages), scenario.name)
        for conversation_id, messages in sorted(recorded.messages.items())
    ]
    written = write_recordings(Path(out), recordings)
    usage = recorded.stats.scenario(scenario.name).persona_usage.to_report()
    cells = llm_cells(LlmUsage.model_validate(usage))
    typer.echo(
        f"wrote {written} conversations to {out}: LLM requests (cached) {cells['llm_requests']}, "
        f"cost ${cells['llm_cost'] or '0'}, turns played scripted {cells['llm_fallbacks'] or 0}"
    )


def import_conversations(
    source: Annotated[Path, typer.Argument(help="JSONL, one message a line: role, text, time.")],
    out: Annotated[str, typer.Option("--out", parser=output_file, help="JSONL file to write.")],
    scenario: Annotated[str | None, typer.Option("--scenario", help="Name to tag them.")] = None,
) -> None:
    """Turn recorded conversations (one message a line) into a replay file."""
    try:
        recordings = import_messages(source, scenario)
    except RecordingError as exc:
        typer.echo(f"chatstorm: {exc}", err=True)
        raise typer.Exit(2) from None
    written = write_recordings(Path(out), recordings)
    messages = sum(len(recording.messages) for recording in recordings)
    typer.echo(f"wrote {written} conversations ({messages} messages) to {out}")


def _pick_scenario(path: Path, name: str | None) -> Scenario:
    try:
        scenarios = load_scenarios([path])
    except ScenarioError as exc:
        typer.echo(str(exc), err=True)  # every problem, a line each
        raise typer.Exit(2) from None
    chosen = [s for s in scenarios if name is None or s.name == name]
    if len(chosen) != 1:
        names = ", ".join(repr(s.name) for s in scenarios)
        typer.echo(f"chatstorm: choose one scenario with --name (found {names})", err=True)
        raise typer.Exit(2)
    if chosen[0].persona.engine != "llm":
        typer.echo(
            f"chatstorm: {chosen[0].name!r} uses engine: {chosen[0].persona.engine}; "
            "generate records LLM personas (engine: llm)",
            err=True,
        )
        raise typer.Exit(2)
    return chosen[0]


async def _record(
    scenario: Scenario,
    count: int,
    seed: str,
    time_scale: float,
    parallel: int,
    gateway: GatewaySettings,
    cache: LlmCacheSettings,
) -> _Transcripts:
    settings = RunSettings(time_scale=time_scale, seed=seed, gateway=gateway, cache=cache)
    runtime = ProcessRuntime(settings, [scenario])
    recorded = _Transcripts()
    slots = asyncio.Semaphore(parallel)

    async def one(index: int) -> None:
        async with slots:
            await runtime.converse(scenario, f"{scenario.name}#{index}", recorded)

    try:
        await runtime.open()
        await asyncio.gather(*(one(index) for index in range(count)))
    finally:
        await runtime.close(CLOSE_WITHIN_S)
    return recorded
