"""``harness regrade``: judge a finished run again with the current scenarios."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from harness.coord.unavailable import RedisUnavailable
from harness.llm.request import GatewaySettings
from harness.options import http_url, output_folder, positive_float
from harness.persona.services import DEFAULT_CACHE_DIR, LlmCacheSettings
from harness.report.summary import judging_table
from harness.runtime.regrade import regrade as regrade_run
from harness.scenario import ScenarioError, load_scenarios


def regrade(
    folder: Annotated[Path, typer.Argument(help="The run's --report-dir.")],
    scenarios: Annotated[
        list[Path] | None,
        typer.Argument(help="Scenario files or folders, current criteria (default: scenarios/)."),
    ] = None,
    no_judge: Annotated[bool, typer.Option("--no-judge", help="Skip the LLM judge.")] = False,
    llm_base_url: Annotated[
        str | None, typer.Option("--llm-base-url", parser=http_url, help="Messages API endpoint.")
    ] = None,
    llm_cache_dir: Annotated[
        str | None,
        typer.Option(
            "--llm-cache-dir",
            parser=output_folder,
            help=f"The LLM response cache (default {DEFAULT_CACHE_DIR}).",
        ),
    ] = None,
    llm_budget_usd: Annotated[
        float | None,
        typer.Option(
            "--llm-budget-usd", parser=positive_float, help="Ask the judge no more past it."
        ),
    ] = None,
) -> None:
    """Judge a finished run's conversations again with the current scenarios' criteria
    (a rubric or a judge model changed), without holding a single conversation. Writes
    regraded/report.json, regraded/conversations.jsonl and regraded/report.html
    beside the run's."""
    try:
        current = load_scenarios(scenarios or [Path("scenarios")])
    except ScenarioError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    gateway = GatewaySettings(budget_usd=llm_budget_usd, base_url=llm_base_url)
    cache = LlmCacheSettings(folder=Path(llm_cache_dir or DEFAULT_CACHE_DIR))
    try:
        done = asyncio.run(regrade_run(folder, current, gateway, cache, not no_judge))
    except (ValueError, OSError, RedisUnavailable) as exc:
        typer.echo(f"chatstorm: {exc}", err=True)
        raise typer.Exit(2) from None
    console = Console(width=160)
    table = judging_table(done.report)
    if table is not None:
        console.print(table)
    if done.unknown:
        typer.echo(f"left out (no such scenario now): {', '.join(done.unknown)}")
    typer.echo(f"regraded {done.judged} conversations into {done.folder}")
