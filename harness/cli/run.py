"""``harness run``: a functional run. Exactly the requested conversations (scenarios x
``--repeat``), to completion, judged, then the summary and the report; the exit code
says whether the agent held up: 0 every objective holds (or, with none, every
conversation succeeded), 3 an objective failed, 1 a conversation failed with no
objective declared, 2 bad input.

Its options are the Locust run's, declared once (``harness.runtime.options`` and each
transport's kind) and parsed here by the same renderer, so every transport option the
locustfile takes works here too.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import configargparse
import typer
from rich.console import Console

from harness.cli.progress import Progress, failure_reason
from harness.cli.run_summary import print_changes, print_run_summary
from harness.coord.unavailable import RedisUnavailable
from harness.options import Option, OptionGroup, add_group, fraction, positive_int
from harness.report import TRANSCRIPT_FILE, prepare_report_dir
from harness.report.baseline import Change, compare, parse_tolerance, read_baseline
from harness.report.junit import JUNIT_FILE, write_junit
from harness.report.model import BaselineChange, MatrixLayout, Report
from harness.runtime.batch import BatchOutcome, Planned, run_batch
from harness.runtime.options import GROUPS, transport_groups
from harness.runtime.options import run_settings as settings_from
from harness.runtime.process import RunSettings
from harness.scenario import Scenario, ScenarioError, load_scenarios
from harness.scenario.plans import MAX_COMBINATIONS, load_matrix, load_suite, matrix_cells

DEFAULT_SCENARIOS = Path("scenarios")
BAD_INPUT, FAILED, OBJECTIVE_FAILED = 2, 1, 3


FUNCTIONAL = OptionGroup(
    "harness run",
    "Which conversations, how many, how many at once.",
    (
        Option(
            "--suite",
            "Run a suite: scenarios/suites/NAME.yaml, or a suite file's path.",
            metavar="NAME",
        ),
        Option(
            "--matrix",
            "Run one scenario over a grid of parameters (a matrix file; see README).",
            metavar="FILE",
        ),
        Option(
            "--max-combinations",
            f"Refuse a matrix of more combinations than this (default {MAX_COMBINATIONS:,}).",
            default=MAX_COMBINATIONS,
            parse=positive_int,
            metavar="N",
        ),
        Option(
            "--repeat",
            "Play each scenario K times (default: the suite's or matrix's, else 1): pass^k "
            "needs K of them.",
            parse=positive_int,
            metavar="K",
        ),
        Option(
            "--concurrency",
            "Conversations at once (default: the suite's or matrix's, else 8).",
            parse=positive_int,
            metavar="N",
        ),
        Option(
            "--baseline",
            "An earlier run's report.json: the summary shows what changed, per scenario.",
            metavar="REPORT",
        ),
        Option(
            "--fail-on-regression",
            "With --baseline: exit 3 when a figure got worse beyond its tolerance.",
            default=False,
            switch=True,
        ),
        Option(
            "--regression-tolerance",
            "How much worse a figure may get before it is a regression, e.g. "
            "first_reply_p95_ms=0.1 (a share of the baseline's latency or cost; an amount "
            "of a rate). Repeatable.",
            parse=parse_tolerance,
            metavar="FIGURE=TOLERANCE",
            repeat=True,
        ),
        Option(
            "--min-success-rate",
            "Shorthand for an objective over the whole run: at least this share of the "
            "conversations succeed (0..1).",
            parse=fraction,
            metavar="R",
        ),
    ),
)


class OneLineParser(configargparse.ArgumentParser):
    """A bad option is one line that names it and where to look, not the usage of every
    option (twenty lines) above it."""

    def error(self, message: str) -> NoReturn:
        self.exit(BAD_INPUT, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def parser() -> configargparse.ArgumentParser:
    parsing = OneLineParser(
        prog="harness run",
        description="Run the scenarios' conversations to completion, judged, and report.",
    )
    parsing.add_argument(
        "paths", nargs="*", type=Path, help="Scenario files or folders (default: scenarios/)."
    )
    for group in (FUNCTIONAL, *GROUPS, *transport_groups()):
        add_group(parsing, group)
    return parsing


def run(argv: Sequence[str], console: Console | None = None) -> int:
    """The whole command; its exit code."""
    if console is None:  # a pipe gets wide tables, not 80 columns of wrapped cells
        console = Console() if sys.stdout.isatty() else Console(width=160)
    options = parser().parse_args(list(argv))  # bad options: argparse's message, exit 2
    try:
        chosen = _chosen(options)
    except ScenarioError as exc:
        sys.stderr.write(f"{exc}\n")  # every problem, a line each
        return BAD_INPUT
    scenarios = [scenario for scenario in chosen.scenarios if scenario.weight > 0]
    if not scenarios:
        return _say("no scenario to run (every one has weight: 0, or none was found)")
    report_dir = Path(options.report_dir) if options.report_dir else None
    settings = _settings(vars(options), report_dir, chosen)
    problems = settings.transport.problems()
    if problems:
        return _say("\nchatstorm: ".join(problems))
    if report_dir is not None:
        try:
            prepare_report_dir(report_dir)
        except OSError as exc:
            return _say(str(exc))
    baseline = None
    if options.baseline is not None:
        try:
            baseline = read_baseline(Path(options.baseline))
        except ValueError as exc:
            return _say(str(exc))
    tolerances = dict(options.regression_tolerance or [])
    changes: list[Change] = []

    def amend(report: Report) -> None:
        """The report as written: with the matrix's grid, and what changed since the
        baseline."""
        report.matrix = chosen.matrix
        if baseline is not None:
            changes.extend(compare(baseline, report, tolerances))
            report.baseline = [BaselineChange.model_validate(c.to_dict()) for c in changes]

    repeat = options.repeat or chosen.repeat
    plan = [Planned(scenario, repeat) for scenario in scenarios]
    concurrency = options.concurrency or chosen.concurrency
    try:
        outcome = asyncio.run(_play(settings, plan, concurrency, console, amend))
    except (RedisUnavailable, OSError, ValueError) as exc:  # the run could not start
        return _say(str(exc))
    print_run_summary(outcome, console, report_dir)
    if baseline is not None:
        print_changes(changes, console)
    regressed = options.fail_on_regression and any(c.regressed for c in changes)
    if report_dir is not None:
        transcripts = report_dir / TRANSCRIPT_FILE if settings.writes_transcripts else None
        write_junit(report_dir / JUNIT_FILE, outcome.results, failure_reason, transcripts)
    code = outcome.conclusion.exit_code
    if regressed:
        return OBJECTIVE_FAILED
    if code is not None:
        return code
    failed = any(failure_reason(result) is not None for result in outcome.results)
    return FAILED if failed or outcome.stopped else 0


@dataclass(frozen=True)
class Chosen:
    """What the command line asks to run, and the plan's own settings."""

    scenarios: list[Scenario]
    repeat: int = 1
    concurrency: int = 8
    expect: dict[str, float] = field(default_factory=dict)
    min_success_rate: float | None = None
    matrix: MatrixLayout | None = None


def _chosen(options: argparse.Namespace) -> Chosen:
    """The scenarios of the suite, the matrix, or the paths (default scenarios/)."""
    if options.suite is not None:
        suite, scenarios = load_suite(options.suite)
        expect = suite.expect.model_dump(exclude_none=True)
        return Chosen(scenarios, suite.repeat, suite.concurrency, expect, suite.min_success_rate)
    if options.matrix is not None:
        matrix, scenarios = load_matrix(Path(options.matrix), options.max_combinations)
        layout = MatrixLayout(
            name=matrix.name,
            parameters=list(matrix.parameters),
            cells=matrix_cells(matrix, scenarios),
        )
        return Chosen(scenarios, matrix.runs_per_combination, matrix.concurrency, matrix=layout)
    paths = [*options.paths, *(options.scenario or [])] or [DEFAULT_SCENARIOS]
    return Chosen(load_scenarios(paths))


def _settings(values: dict, report_dir: Path | None, chosen: Chosen) -> RunSettings:
    settings = settings_from(values, report_dir)
    totals = {}
    floor = values.get("min_success_rate")
    if floor is None:
        floor = chosen.min_success_rate
    if floor is not None:
        totals["success_rate_min"] = floor
    expect = {**chosen.expect, **settings.expect}  # the command line's over the plan's
    return dataclasses.replace(settings, judge_all=True, expect=expect, expect_totals=totals)


async def _play(
    settings: RunSettings,
    plan: list[Planned],
    concurrency: int,
    console: Console,
    amend: Callable[[Report], None],
) -> BatchOutcome:
    """The batch, stopped (and still reported) on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    total = sum(planned.runs for planned in plan)
    with Progress(total, console) as progress:
        return await run_batch(settings, plan, concurrency, progress.ended, stop, amend)


def _say(message: str) -> int:
    sys.stderr.write(f"chatstorm: {message}\n")
    return BAD_INPUT


def command(ctx: typer.Context) -> None:
    """Run the scenarios' conversations to completion, judged; `harness run --help` for
    the options."""
    raise typer.Exit(run(ctx.args))
