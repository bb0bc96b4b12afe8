"""What ``harness run`` prints at the end: the batching and judging tables, then per
scenario, persona and personality how often the agent succeeded (with pass^k), the
objectives, and the conversations that failed with why and where their transcript is."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.cli.progress import failure_reason
from harness.records import ConversationResult
from harness.report import TRANSCRIPT_FILE, print_objectives, print_summary
from harness.report.baseline import Change
from harness.report.summary import (
    outcomes_cell,
    pass_hat_k_text,
    percent,
    repeats_label,
    worst_evaluation,
)
from harness.runtime.batch import BatchOutcome

FAILURES_SHOWN = 20


def print_run_summary(outcome: BatchOutcome, console: Console, report_dir: Path | None) -> None:
    report = outcome.conclusion.report
    print_summary(report, console, judging_too=False)
    console.print(scenario_table(outcome))
    for title, key in (("persona", "persona"), ("personality", "personality")):
        console.print(_grouped_table(outcome.results, title, key))
    print_objectives(outcome.conclusion.slo_results, console)
    _print_failures(outcome, console, report_dir)
    ended = len(outcome.results)
    if outcome.stopped:
        console.print(f"Stopped: {ended} of {outcome.planned} conversations ended.")


def scenario_table(outcome: BatchOutcome) -> Table:
    table = Table(title="chatstorm run: per scenario", title_justify="left")
    for header in ("Scenario", "Runs", "Repeats", "Success", "pass^k", "Turns (mean)",
                   "Duration s min / med / max (sd)", "Outcomes", "Most failed"):  # fmt: skip
        table.add_column(header, justify="left" if header == "Scenario" else "right")
    for name, figures in outcome.conclusion.report.scenarios.items():
        judging = figures.judging
        if judging is None:
            continue
        spread = judging.duration_s
        duration = f"{_s(spread.min)} / {_s(spread.p50)} / {_s(spread.max)} ({_s(spread.stddev)})"
        table.add_row(
            name,
            str(judging.conversations),
            repeats_label(
                judging.conversations, judging.successes, judging.infrastructure_failures
            ),
            percent(judging.success_rate),
            pass_hat_k_text(figures.pass_hat_k or {}, figures.pass_hat_k_without_infrastructure),
            _s(judging.turns.mean),
            duration,
            outcomes_cell(judging.outcomes),
            worst_evaluation(judging.evaluations),
        )
    return table


def _grouped_table(results: list[ConversationResult], title: str, key: str) -> Table:
    groups: dict[str, list[ConversationResult]] = defaultdict(list)
    for result in results:
        if result.judgment is not None:
            groups[getattr(result.judgment, key)].append(result)
    table = Table(title=f"chatstorm run: per {title}", title_justify="left")
    for header in (title.capitalize(), "Runs", "Success", "Turns (mean)"):
        table.add_column(header, justify="left" if header != "Runs" else "right")
    for name, members in sorted(groups.items()):
        successes = sum(bool(r.judgment and r.judgment.success) for r in members)
        turns = sum(r.turns for r in members) / len(members)
        table.add_row(name, str(len(members)), percent(successes / len(members)), f"{turns:.1f}")
    return table


def _print_failures(outcome: BatchOutcome, console: Console, report_dir: Path | None) -> None:
    failed = [(r, why) for r in outcome.results if (why := failure_reason(r)) is not None]
    if not failed:
        return
    where = f" in {report_dir / TRANSCRIPT_FILE}" if report_dir is not None else ""
    console.print(f"Failed conversations ({len(failed)}; transcripts{where}, by conversation_id):")
    for result, why in failed[:FAILURES_SHOWN]:
        console.print(f"  {result.conversation_id}: {why}", markup=False, highlight=False)
    if len(failed) > FAILURES_SHOWN:
        console.print(f"  ... and {len(failed) - FAILURES_SHOWN} more (conversations.jsonl)")


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_changes(changes: list[Change], console: Console) -> None:
    """The run against its baseline: a row per figure that both runs measured."""
    table = Table(title="chatstorm run: against the baseline", title_justify="left")
    for header in ("Scenario", "Figure", "Before", "After", "Change", ""):
        table.add_column(header, justify="left" if header in ("Scenario", "Figure") else "right")
    for change in changes:
        verdict = "[bold red]worse[/]" if change.regressed else ""
        table.add_row(
            change.scenario,
            change.figure,
            _figure(change.figure, change.before),
            _figure(change.figure, change.after),
            _figure(change.figure, change.delta, signed=True),
            verdict,
        )
    console.print(table)
    worse = sum(change.regressed for change in changes)
    console.print(f"Against the baseline: {worse} regression(s) beyond tolerance.")


def _figure(name: str, value: float, signed: bool = False) -> str:
    sign = "+" if signed else ""
    if name.endswith("_ms"):
        return f"{value:{sign},.0f} ms"
    if name == "cost_usd":
        return f"{value:{sign}.4f} $"
    return f"{value * 100:{sign}.1f}%" if name.endswith("rate") else f"{value:{sign}.2f}"
